"""Story clustering: same item (URL, text hash), copies, and the seeds' story grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT
from story_corpus import MemoryStoryIndex

from monitor.errors import MonitorError
from monitor.model import Document
from monitor.stories import (
    Candidate,
    StoryFeatures,
    StoryRules,
    assign,
    canonical_url,
    index_keys,
    story_features,
    text_hash,
)
from monitor.stories.clustering import signals

SEEDS = ROOT / "seeds"
NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)


def seed_document(name: str) -> Document:
    """A seed file as the pipeline sees it: first line the title, the rest the page text."""
    path = next(SEEDS.glob(f"{name}_*.txt"))
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if line.strip() and line.strip() != "--> -->"]
    return Document(title=lines[0], text="\n".join(lines[1:]))


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTP://WWW.Example.COM:80/News/Story/?utm_source=x&utm_medium=y&id=7#comments",
            "https://example.com/News/Story?id=7",
        ),
        ("https://m.example.com/news/1/amp/", "https://example.com/news/1"),
        ("https://amp.example.com/a.amp.html", "https://example.com/a.html"),
        (
            "https://www.example.com/amp/news/2?fbclid=1&gclid=2&ref=home&b=2&a=1",
            "https://example.com/news/2?a=1&b=2",
        ),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x?page=2", "https://example.com:8443/x?page=2"),
        ("https://example.com", "https://example.com/"),
        ("  https://news.example.co.uk/story.amp  ", "https://news.example.co.uk/story"),
    ],
)
def test_canonical_url_folds_variants_of_one_link(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_canonical_url_keeps_what_identifies_the_page() -> None:
    assert canonical_url("https://example.com/a?id=1") != canonical_url("https://example.com/a?id=2")
    assert canonical_url("https://example.com/a") != canonical_url("https://example.org/a")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "", "mailto:a@example.com"])
def test_canonical_url_rejects_non_web_links_with_one_clear_sentence(url: str) -> None:
    with pytest.raises(MonitorError, match="not an http"):
        canonical_url(url)


def test_text_hash_ignores_page_furniture_case_and_spacing() -> None:
    article = seed_document("000").text
    refetched = (
        "Home | News | Tekno\n"
        "Baca Juga : Sepuluh Ponsel Terlaris Bulan Ini di Indonesia Versi Kami\n"
        + article.upper().replace(" ", "  ").replace("\n", "\n\n")
        + "\nBagikan\nIklan"
    )
    assert text_hash(article) == text_hash(refetched)
    assert text_hash(article) != text_hash(seed_document("002").text)
    assert text_hash("Short feed summary.") != text_hash("Another short summary.")
    assert text_hash("") == text_hash(" \n - ") == ""


def test_features_survive_json_round_trip() -> None:
    features = story_features(seed_document("003"), NOW)
    assert StoryFeatures.from_json(features.to_json()) == features
    with pytest.raises(MonitorError):
        StoryFeatures.from_json('{"language": "fr"}')


def test_numbers_and_dates_are_normalised_across_notations() -> None:
    def extracted(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        features = story_features(Document("Judul", text, language="id"), None)
        return features.numbers, features.dates

    assert extracted("rusak lebih dari 8.000 unit GPU, kata mereka hari ini")[0] == ("8000",)
    assert extracted("jusqu'à 8 000 unités de traitement graphique")[0] == ("8000",)
    assert extracted("as many as 8,000 graphics processing units")[0] == ("8000",)
    assert extracted("pinjaman sebesar USD 10,8 miliar")[0] == ("10800000000",)
    assert extracted("a loan of 10.8 billion dollars")[0] == ("10800000000",)
    assert extracted("кредит в 10,8 млрд долларов")[0] == ("10800000000",)  # a scale in any script
    assert extracted("un préstamo de 10,8 mil millones")[0] == ("10800000000",)
    assert extracted("3,5 millón de euros; 3,5 miliona złotych")[0] == ("3500000",)
    assert extracted("贷款108亿美元，涉及3.18万人")[0] == ("10800000000", "31800")
    assert extracted("dikutip pada Selasa (22/10) lalu")[1] == ("10-22",)
    assert extracted("am 22. Oktober 2024 in Peking")[1] == ("10-22", "2024-10")
    assert extracted("on October 22, 2024 in Beijing")[1] == ("10-22", "2024-10")


def test_seeds_group_into_the_stories_of_labels_yaml() -> None:
    """000 (id), 002 (de), 003 (fr) are one story; 001 and 004 share only background."""
    index = MemoryStoryIndex()
    decisions = {
        name: index.add(story_features(seed_document(name), None), NOW) for name in ("000", "001", "002", "003", "004")
    }
    story = {name: decision.story_id for name, decision in decisions.items()}
    assert story["000"] == story["002"] == story["003"]
    assert len({story["000"], story["001"], story["004"]}) == 3
    assert decisions["002"].signal.startswith("same event")
    assert "bytedance" in decisions["003"].signal


def test_a_syndicated_copy_joins_as_near_copy() -> None:
    original = seed_document("003")
    copy = Document(
        title="ByteDance renvoie un stagiaire accusé de sabotage",
        text="Accueil > Tech\n" + original.text + "\nLa société n'a pas souhaité commenter.",
    )
    first = story_features(original, NOW)
    decision = assign(story_features(copy, NOW), [Candidate(1, 7, first)])
    assert decision.story_id == 7
    assert decision.signal.startswith("near-copy")
    assert set(index_keys(first)) & set(index_keys(story_features(copy, NOW)))


def test_same_story_outside_the_window_starts_a_new_story() -> None:
    story = [
        Candidate(1, 7, story_features(seed_document("000"), NOW)),
        Candidate(2, 7, story_features(seed_document("002"), NOW)),
    ]
    french = seed_document("003")
    assert assign(story_features(french, NOW + timedelta(hours=5)), story).story_id == 7
    week_later = story_features(french, NOW + timedelta(days=7))
    assert assign(week_later, story).story_id is None
    five_hours_later = story_features(french, NOW + timedelta(hours=5))
    assert assign(five_hours_later, story, StoryRules(window=timedelta(hours=4))).story_id is None


def test_no_candidates_means_a_new_story() -> None:
    decision = assign(story_features(seed_document("001"), NOW), [])
    assert decision.story_id is None and decision.signal == "new story"


def test_index_keys_are_few_and_a_shared_company_name_alone_does_not_merge() -> None:
    for name in ("000", "001", "002", "003", "004"):
        keys = index_keys(story_features(seed_document(name), NOW))
        # 16 bands, 15 name pairs, 3 names, 3 numbers, 6 name-number, 10 stem pairs, 4 headline stems
        assert 0 < len(keys) <= 57
        assert len(set(keys)) == len(keys)
    first = Document(
        "ByteDance opens an office",
        "The company ByteDance opened an office in Jakarta, said Andi Wijaya of Kominfo, "
        "with 300 engineers hired over the summer for its Lark unit.",
    )
    second = Document(
        "ByteDance settles a lawsuit",
        "The firm ByteDance settled a lawsuit in Texas brought by Ken Paxton over Douyin, "
        "paying 45 million dollars according to the filing seen by Reuters.",
    )
    # The leading name alone is a key (the store reads only each key's newest articles), so
    # the two are compared; sharing the company is not enough to make them one story.
    first_features, second_features = story_features(first, NOW), story_features(second, NOW)
    assert set(index_keys(first_features)) & set(index_keys(second_features))
    assert assign(second_features, [Candidate(1, 7, first_features)]).story_id is None


@pytest.mark.parametrize(
    ("text", "numbers", "dates"),
    [
        ("pada 22/10/2024.", (), ("10-22", "2024-10")),
        ("kode A22/10 bukan tanggal", ("10",), ()),  # glued to a word: not a date
        ("Oktober 2024 dan 8.000 unit", ("8000",), ("2024-10",)),
        ("Jakarta, 5 Desember 2023: 1,5 juta orang", ("1500000",), ("12-05", "2023-12")),
        ("sejak 2024-10-22, naik 12 persen", ("12",), ("10-22", "2024-10")),
        ("Oct. 22 dan 3 Mei", (), ("05-03", "10-22")),
    ],
)
def test_dates_and_numbers_next_to_words_and_punctuation(
    text: str, numbers: tuple[str, ...], dates: tuple[str, ...]
) -> None:
    features = story_features(Document("Judul", text, language="id"), None)
    assert (features.numbers, features.dates) == (numbers, dates)


# SHA-256 (first 16 hex digits) of each seed's features as JSON, and its text hash.
SEED_EVIDENCE = {
    "000": ("4c1a8b1459c5d3db", "77cace97585dede3b0a2b6cd6253608d"),
    "001": ("30cfa25e02534be0", "13936d2c2b4d6740ef7ea3edb736177f"),
    "002": ("337816c029f35cbd", "114f0013e1e3cb660adbf5dcbb192c86"),
    "003": ("d5a81c64950937d8", "27c046d58452be4ac0cf353e68141bed"),
    "004": ("a1a6ddfd2ded22ed", "46298563523c38bf84c4732508ea4995"),
}


@pytest.mark.parametrize("name", sorted(SEED_EVIDENCE))
def test_evidence_stored_by_earlier_versions_stays_comparable(name: str) -> None:
    """Features and text hashes are stored and compared with later articles' ones: the
    same article must give the same bytes. (A deliberate change needs the stored rows
    recomputed, then these values updated.)"""
    import hashlib  # (this file's imports are shared; this test alone needs it)

    document = seed_document(name)
    features_json = story_features(document, None).to_json().encode()
    assert (hashlib.sha256(features_json).hexdigest()[:16], text_hash(document.text)) == SEED_EVIDENCE[name]


@pytest.mark.parametrize(
    ("lede", "weekdays"),
    [
        ("Der Dow büßte am Freitag im frühen Handel 1,86 Prozent ein.", (5,)),
        ("Les marchés ont ouvert lundi en baisse, après un vendredi noir.", (1, 5)),
        ("В пятницу президент заявил, что в среду встретится с министрами.", (3, 5)),
        ("Защита окружающей среды и окружающую среду обсудили.", ()),  # среда: the environment
        ("Prezydent przemawiał w środę; w poniedziałek spotka się z premierem.", (1, 3)),
        ("Bakan Salı günü açıklama yaptı.", (2,)),
        ("国务院周一宣布新措施。", (1,)),
        ("Montagsdemo und Sonntagsfrage", ()),  # part of a word: not a weekday
    ],
)
def test_weekdays_named_in_the_lede(lede: str, weekdays: tuple[int, ...]) -> None:
    assert story_features(Document("Titel", lede), None).weekdays == weekdays


def test_ledes_naming_other_weekdays_never_join_even_as_copies() -> None:
    """Daily market reports: the same wording, other figures, another day."""

    def report(day: str, change: str) -> StoryFeatures:
        text = (
            f"Die US-Börsen haben am {day} mit Verlusten geschlossen. Der Dow Jones Industrial gab um {change} "
            "Prozent nach, der NASDAQ 100 ebenso. Anleger blickten auf den Ölpreis und auf China. "
            "Apple, Tesla und Amazon gaben nach, die Papiere von Boeing und ExxonMobil ebenso."
        )
        return story_features(Document("Aktien New York Schluss: Dow Jones im Minus", text, language="de"), None)

    monday = Candidate(article_id=1, story_id=7, features=report("Montag", "1,39"))
    assert assign(report("Dienstag", "0,84"), [monday]).story_id is None
    assert assign(report("Montag", "1,41"), [monday]).story_id == 7


def test_weekdays_found_as_the_look_behind_pattern_finds_them() -> None:
    """``_weekdays`` checks "not inside a word" itself, for speed: the same days as the plain pattern."""
    import re

    from monitor.stories import features
    from monitor.text import normalize

    names = sorted(features._WEEKDAY_NUMBER, key=len, reverse=True)
    plain = re.compile(
        "|".join(re.escape(n) if features._CJK_CHAR.match(n) else rf"(?<!\w){re.escape(n)}(?!\w)" for n in names)
    )
    ledes = [normalize(path.read_text(encoding="utf-8"))[:1000] for path in sorted(SEEDS.glob("*.txt"))]
    for name in names:  # each name alone, glued to words, digits, underscores and CJK on either side
        ledes += [
            f"{before}{name}{after}"
            for before in ("", " ", "x", "_", "7", "日", "в ")
            for after in ("", " ", "s", "_", "日")
        ]
    ledes += ["montagmontag montag", "ввв среду в среду", "星期一星期二x周三", "senin,selasa;rabu.kamis"]
    for lede in ledes:
        expected = tuple(sorted({features._WEEKDAY_NUMBER[m.group()] for m in plain.finditer(lede)}))
        assert features._weekdays(lede) == expected, lede


@pytest.mark.parametrize(
    ("language", "text", "codes"),
    [
        ("de", "Deutschland und Frankreich; die Kanzlerin Deutschlands", ("DE", "FR")),
        ("fr", "L'Allemagne et les États-Unis", ("DE", "US")),
        ("ru", "Канцлер Германии прилетела в США", ("DE", "US")),
        ("pl", "Rozmowy w Chinach, sankcje wobec Rosji i Chin", ("CN", "RU")),
        ("ar", "الولايات المتحدة والصين", ("US", "CN")),
        ("zh", "德国总理访问中国，中国外交部表示欢迎", ("CN", "DE")),
        ("tr", "ABD'nin Türkiye politikası", ("US", "TR")),
        ("en", "Turkey for Thanksgiving in Georgia; Michael Jordan", ()),  # names that are mostly other words
        ("pl", "Dane z Samoa? Sama nie wiem", ("WS",)),  # no case endings on a short stem: dane, sama are words
        # Adjectives and capitals (demonyms.py): the French seed says "chinois", never "Chine".
        ("fr", "Le géant chinois, selon Pékin et les Américains", ("CN", "US")),
        ("de", "Die chinesischen Behörden in Peking", ("CN",)),
        ("ru", "Переговоры в Москве: американские и китайские делегации", ("RU", "US", "CN")),
        ("it", "Il governo cinese e le autorità russe", ("CN", "RU")),
        ("zh", "华盛顿和莫斯科", ("US", "RU")),
        ("en", "Russell Indiana, Francesco's cines", ()),  # words that start like an adjective are not one
    ],
)
def test_countries_are_one_code_in_every_language(language: str, text: str, codes: tuple[str, ...]) -> None:
    from monitor.stories.countries import countries
    from monitor.text import words

    assert countries(words(text), text, language) == codes


def test_numbers_that_are_part_of_a_name_or_a_phone_number_are_not_the_storys() -> None:
    text = "COVID-19 und G-20: 1.200 Fälle. Kontakt 22/123 45 67 oder 0162 / 201 3290. 请致电 1-300-88-7827"
    assert story_features(Document("Fälle", text), None).numbers == ("1200",)


def test_a_country_is_one_name_in_every_language() -> None:
    """*Libia*, *Libya* and *Libyen* are the same name; so a headline's country is not
    missing from a report that names it in its own language, or in characters."""
    spanish = story_features(Document("Turquía enviará tropas a Libia", "El parlamento votó el envío a Libia."), None)
    english = story_features(Document("Turkish troops for Libya", "Parliament voted to send troops to Libya."), None)
    chinese = story_features(Document("土耳其议会投票", "土耳其议会投票向利比亚派兵。利比亚局势紧张。"), None)
    assert "@ly" in spanish.names and "@ly" in english.names
    assert "@ly" in spanish.title_names
    assert signals(spanish, english).names > 0
    assert signals(spanish, chinese).headline_names_missing < 1.0
