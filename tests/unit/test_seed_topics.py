"""The default topics of config/monitor.yaml against the five real seed pages."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT

from monitor.model import Document
from monitor.text import detect_language
from monitor.topics import TopicSet, TopicSpec

SEEDS = ROOT / "seeds"
LABELS = yaml.safe_load((SEEDS / "labels.yaml").read_text(encoding="utf-8"))


def _configured_topics() -> TopicSet:
    config = yaml.safe_load((ROOT / "config" / "monitor.yaml").read_text(encoding="utf-8"))
    specs = [TopicSpec(t["name"], t["query"], bool(t.get("stem", False))) for t in config["topics"]]
    return TopicSet.compile(specs)


TOPICS = _configured_topics()


def _seed(name: str) -> Document:
    title, _, text = (SEEDS / name).read_text(encoding="utf-8").partition("\n")
    return Document(title=title, text=text, language=detect_language(text))


def test_the_configured_topics_are_the_ones_the_seeds_define() -> None:
    assert set(TOPICS.names) == set(LABELS["topics_defined_by_these_seeds"])


@pytest.mark.parametrize("name", sorted(LABELS["documents"]))
def test_each_seed_matches_exactly_its_labelled_topics(name: str) -> None:
    label = LABELS["documents"][name]
    doc = _seed(name)
    assert doc.language == label["language"]
    matches = TOPICS.match(doc)
    assert [m.topic for m in matches] == sorted(label["topics"])
    for match in matches:
        assert 0 < match.score <= 1
        assert "<mark>" in match.snippet
        for hit in match.hits:  # offsets point at the words in the original text
            source = doc.title if hit.field == "title" else doc.text
            assert source[hit.start : hit.end].strip()
    assert TOPICS.match_naive(doc) == matches


def test_seed_matches_give_their_reasons() -> None:
    by_topic = {m.topic: m for m in TOPICS.match(_seed("002_0ed58fc63b818811.txt"))}
    german = by_topic["ByteDance AI"]
    assert "KI" in german.terms and german.clause.startswith("ByteDance AND ")
    french = {m.topic: m for m in TOPICS.match(_seed("003_6abb16c7ba739e56.txt"))}
    assert french["TikTok ban"].clause == "TikTok NEAR/20 interdi*"
    assert "<mark>interdiction</mark>" in french["TikTok ban"].snippet
    indonesian = {m.topic: m for m in TOPICS.match(_seed("004_6a90b0cf32f207f0.txt"))}
    assert indonesian["TikTok ban"].clause == "TikTok NEAR/20 larangan"


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        # Mentions of TikTok with no ban, from the neighbours of seed 000.
        (
            "Kalahkan AS Hingga Rusia, Indonesia Jadi Pengguna TikTok Terbanyak di Dunia",
            "Indonesia kini menjadi negara dengan pengguna TikTok terbanyak di dunia, "
            "mengalahkan Amerika Serikat dan Rusia menurut laporan terbaru.",
            "id",
        ),
        (
            "Biaya Admin Penjual TikTok Shop Tokopedia Alami Kenaikan hingga 10%",
            "Penjual di TikTok Shop Tokopedia akan dikenakan biaya admin yang lebih tinggi "
            "mulai bulan depan, termasuk penjual ban mobil dan aksesori kendaraan.",
            "id",
        ),
        # Indonesian "ban" is a tyre.
        (
            "Harga ban mobil naik, penjual beralih ke TikTok",
            "Penjual ban mobil kini memasarkan ban bekas lewat TikTok dan marketplace lain.",
            "id",
        ),
        # French "j'ai" is not AI; Indonesian "Ia" is a pronoun, not IA.
        (
            "J'ai testé TikTok pendant un mois",
            "J'ai installé l'application de ByteDance et j'ai regardé des vidéos, "
            "mais je n'ai rien appris sur la société.",
            "fr",
        ),
        (
            "Ia mengaku bekerja di ByteDance",
            "Ia mengaku bekerja di ByteDance sebagai karyawan magang, kata polisi.",
            "id",
        ),
        (
            "ByteDance said its main office is in Beijing",
            "The company said staff remain in the Beijing office, a spokesperson said.",
            "en",
        ),
        (
            "Kiosk und Kiste: ByteDance eröffnet Büro",
            "Bytedance eröffnet ein Büro neben einem Kiosk in Berlin, KIRCHE inklusive.",
            "de",
        ),
    ],
)
def test_traps_match_no_topic(title: str, text: str, language: str) -> None:
    assert TOPICS.match(Document(title, text, language)) == []
