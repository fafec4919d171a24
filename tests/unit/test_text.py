"""Normalisation, word splitting with offsets, stemming and language identification."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

from monitor.text import (
    AnalysedText,
    decode_entities,
    detect_language,
    fold,
    fold_keep_case,
    language_code,
    normalize,
    stemmer_for,
    token_spans,
    tokenize,
    words,
)

SEEDS = ROOT / "seeds"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Le  Propriétaire\tde TikTok ", "le proprietaire de tiktok"),
        ("STRASSE Straße", "strasse strasse"),
        ("TikTok\u2013Verbot \u2014 KI\u2011Modell", "tiktok-verbot - ki-modell"),
        ("d\u2019IA j`ai", "d'ia j'ai"),
        ("caf&eacute; &amp; th&#233;", "cafe & the"),
        ("&amp;amp;", "&"),  # decoded until stable, so normalize is idempotent
        ("ＢｙｔｅＤａｎｃｅ", "bytedance"),
        ("字节跳动 豆包", "字节跳动 豆包"),
        ("バイトダンス", "バイトダンス"),  # voicing marks stay
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert normalize(expected) == expected


def test_words_split_on_punctuation_in_every_script() -> None:
    assert words("Bytedance: TikTok-Unternehmen feuert Praktikanten") == [
        "bytedance", "tiktok", "unternehmen", "feuert", "praktikanten"
    ]  # fmt: skip
    assert words("un projet d’IA, j'ai dit") == ["un", "projet", "d", "ia", "j", "ai", "dit"]
    assert words("字节跳动发布豆包") == ["字", "节", "跳", "动", "发", "布", "豆", "包"]
    assert words("미국의 틱톡") == ["미", "국", "의", "틱", "톡"]
    assert words("भारत में टिकटॉक") == ["भारत", "में", "टिकटॉक"]  # vowel signs stay in the word
    assert words("8.000 unit_GPU") == ["8", "000", "unit", "gpu"]


def test_token_offsets_point_into_the_original_text_even_after_entities() -> None:
    text = "Caf&eacute; &amp; KI: Sabotagevorw&uuml;rfe"
    tokens = tokenize(text)
    assert tokens == ["Café", "KI", "Sabotagevorwürfe"]
    spans = token_spans(text)
    assert [text[a:b] for a, b in spans] == ["Caf&eacute;", "KI", "Sabotagevorw&uuml;rfe"]
    assert decode_entities("no entities & here") == ("no entities & here", None)


def test_fold_and_case_forms() -> None:
    assert fold("Propriétaire") == "proprietaire"
    assert fold("¼") == "14"
    assert fold_keep_case("Propriétaire") == "Proprietaire"
    assert fold_keep_case("AI") == "AI"


def test_stemmers_follow_the_language() -> None:
    indonesian = stemmer_for("id")
    assert indonesian is not None
    assert indonesian(["menyabotase", "larangan", "dilarang"]) == ["sabotase", "larang", "larang"]
    german = stemmer_for("de-AT")
    assert german is not None and german(["verbote"]) == ["verbot"]
    assert stemmer_for("zh") is None
    assert stemmer_for(None) is None
    assert language_code("pt_BR") == "pt"
    assert language_code("") is None


def test_detect_language_of_the_seeds() -> None:
    labels = yaml.safe_load((SEEDS / "labels.yaml").read_text(encoding="utf-8"))
    for name, label in labels["documents"].items():
        text = (SEEDS / name).read_text(encoding="utf-8").partition("\n")[2]
        assert detect_language(text) == label["language"]


def test_short_text_falls_back_to_the_declared_language() -> None:
    assert detect_language("Doubao", declared="fr-FR") == "fr"
    assert detect_language("Doubao") is None


@given(st.text(alphabet=st.sampled_from(list("aZé ß-’&;#x41amp.İ字跳ไทย\u0301\n")), max_size=60))
def test_analysed_text_agrees_with_tokenize_fold_and_token_spans(text: str) -> None:
    """The matcher's one-pass analysis gives the same words, folds and offsets."""
    analysed = AnalysedText(text)
    assert analysed.tokens == tokenize(text)
    assert analysed.folded == [fold(token) for token in tokenize(text)]
    assert [analysed.span(i, i) for i in range(len(analysed.tokens))] == token_spans(text)


def test_analysed_text_spans_cover_runs_of_words() -> None:
    text = "Le &quot;TikTok-Verbot&quot; — d’IA"
    analysed = AnalysedText(text)
    assert analysed.tokens == ["Le", "TikTok", "Verbot", "d", "IA"]
    start, end = analysed.span(1, 2)
    assert text[start:end] == "TikTok-Verbot"
    start, end = analysed.span(3, 4)
    assert text[start:end] == "d’IA"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("＆amp;", "&"),  # NFKD makes the "&" of an entity
        ("Ｔｉｋ＆ａｍｐ；Ｔｏｋ", "tik&tok"),  # ... and its ";"
        ("&#xFE31;", "-"),  # an entity for a dash form that NFKD makes an em dash
        ("ℌello", "hello"),  # NFKD makes a capital letter
        ("ŉ", "'n"),  # casefold makes an apostrophe
    ],
)
def test_normalize_repeats_while_a_step_makes_work_for_an_earlier_one(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert normalize(expected) == expected


@given(st.text(alphabet=st.sampled_from(list("aZé ß-’&;#x26amp\u3000İﬁ＆；ℌŉ︱ｍ\u0301字\n")), max_size=24))
def test_normalize_is_idempotent_and_words_are_the_folded_tokens(text: str) -> None:
    folded = normalize(text)
    assert normalize(folded) == folded
    assert words(text) == [fold(token) for token in tokenize(text)]
