"""Ways the same-story decision failed on real news (issue 13), each through the real
pipeline: two local outlets, one ``monitor poll``, the story ids read back. (Consent
walls and captchas: tests/integration/test_not_article_pipeline.py.)

The articles are written for these tests, after the pattern of the real pages that
failed: what matters is what they share and what they do not.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import monitor
from hostile import HostileServer
from newssite import Story, publish, story_of_each_page

from monitor.model import Document
from monitor.stories import features, story_features

DAY = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)


def one_story(first: Story, second: Story, tmp_path: Path, make_config: Any, **sections: Any) -> bool:
    """Whether ``monitor poll`` puts the two outlets' articles in one story."""
    with HostileServer() as server:
        feeds = [
            {"name": "first", "url": publish(server, "first", [first])},
            {"name": "second", "url": publish(server, "second", [second])},
        ]
        config = make_config(f"sqlite:///{tmp_path / f'cases-{len(sections)}.db'}", feeds, **sections)
        polled = monitor("--config", config, "poll")
        assert polled.returncode == 0, polled.stderr
        assert "1 stored" in polled.stdout, polled.stdout
        listed = monitor("--config", config, "stories", "--format", "json")
    story_of = story_of_each_page(json.loads(listed.stdout))
    assert set(story_of) == {first.slug, second.slug}
    return story_of[first.slug] == story_of[second.slug]


POLICE_FOOTER = (
    "Rückfragen bitte an: Polizeipräsidium Mannheim, Pressestelle, Telefon: 0621 174-1111, "
    "Durchwahl 1102, Fax: 0621 174-1119, E-Mail: mannheim.pp.pressestelle@polizei.example, "
    "L 6, 1, 68161 Mannheim."
)


def test_police_releases_sharing_only_their_contact_numbers_stay_apart(tmp_path: Path, make_config: Any) -> None:
    burglary = Story(
        "heidelberg-burglary",
        "Heidelberg: Einbruch in Bäckerei in der Weststadt",
        "Unbekannte sind in der Nacht zum Dienstag in eine Bäckerei in der Heidelberger Weststadt "
        "eingebrochen. Die Täter hebelten gegen 3 Uhr die Hintertür auf und entwendeten die Tageseinnahmen "
        "aus der Kasse. Zeugen, die in der Römerstraße verdächtige Personen beobachtet haben, werden "
        "gebeten, sich beim Polizeirevier Heidelberg-Süd zu melden.\n" + POLICE_FOOTER,
        "de",
        DAY,
    )
    accident = Story(
        "weinheim-accident",
        "Weinheim: Radfahrerin bei Unfall an Kreuzung verletzt",
        "Eine 54 Jahre alte Radfahrerin ist am Freitagnachmittag an der Kreuzung Bergstraße und "
        "Grundelbachstraße in Weinheim von einem abbiegenden Lieferwagen erfasst worden. Die Frau wurde "
        "mit leichten Verletzungen in ein Krankenhaus gebracht. Der Sachschaden wird auf rund 2.500 Euro "
        "geschätzt. Der Verkehrsdienst ermittelt zum genauen Unfallhergang.\n" + POLICE_FOOTER,
        "de",
        DAY + timedelta(days=2),
    )
    assert not one_story(burglary, accident, tmp_path, make_config)


def test_chinese_headlines_sharing_a_year_and_a_number_stay_apart(tmp_path: Path, make_config: Any) -> None:
    psychology = Story(
        "zh-psychology",
        "2020年心理学研究：为什么新年决心很难坚持 12 项建议",
        "心理学家表示，很多人在2020年开始时制定新年决心，但大多数人在几周后就放弃了。研究人员调查了 12 个国家的"
        "志愿者，发现设定具体而小的目标更容易坚持。专家建议把大目标分成每周可以完成的小步骤，并记录自己的进展。",
        "zh",
        DAY,
    )
    meteors = Story(
        "zh-meteors",
        "2020年第一场流星雨：象限仪流星雨每小时可达 12 颗以上",
        "天文爱好者将在2020年1月3日至4日夜间迎来象限仪流星雨的极大期。天文台表示，在远离城市灯光的地方，"
        "每小时可以看到 12 颗以上的流星。观测者最好在凌晨时分面向东北方向的天空，并给眼睛二十分钟适应黑暗。",
        "zh",
        DAY,
    )
    assert not one_story(psychology, meteors, tmp_path, make_config)


def test_headlines_opening_with_ordinary_capitalised_words_still_join(tmp_path: Path, make_config: Any) -> None:
    flames = Story(
        "krefeld-flames",
        "Flames kill 30 animals at Krefeld zoo",
        "More than 30 animals, among them orangutans, gorillas and chimpanzees, died when the ape house "
        "of Krefeld Zoo in western Germany burned down shortly after midnight on New Year's Eve. Police "
        "in Krefeld said sky lanterns released by three local women probably set the roof of the ape "
        "house alight. Zoo director Wolfgang Dressen called the loss of the animals a disaster. The fire "
        "brigade could not save the building; two chimpanzees, Bally and Limbo, survived with burns.",
        "en",
        DAY,
    )
    lanterns = Story(
        "krefeld-lanterns",
        "Sky lanterns blamed for deadly fire at Krefeld zoo",
        "Police in Krefeld believe sky lanterns started the fire that destroyed the ape house of Krefeld "
        "Zoo on New Year's Eve, killing more than 30 animals including orangutans, gorillas and "
        "chimpanzees. Three women from Krefeld came forward after police appealed for witnesses. Zoo "
        "director Wolfgang Dressen said staff were devastated. Two chimpanzees, Bally and Limbo, were "
        "rescued from the burning building and are being treated for burns.",
        "en",
        DAY + timedelta(hours=6),
    )
    assert one_story(flames, lanterns, tmp_path, make_config)
    # The threshold is the user's to set: at 0.99 only near-certain pairs merge.
    assert not one_story(flames, lanterns, tmp_path, make_config, stories={"event_threshold": 0.99})


MONDAY = DAY + timedelta(days=5)  # 2020-01-06 was a Monday


def market_report(slug: str, weekday: str, dow: str, points: str, nasdaq: str, at: datetime) -> Story:
    return Story(
        slug,
        f"Aktien New York Schluss: Dow Jones {dow} Prozent zum Handelsende",
        f"NEW YORK (dpa-AFX) - Die US-Börsen haben am {weekday} mit Verlusten geschlossen. Der Leitindex Dow Jones "
        f"Industrial gab zum Handelsende um {dow} Prozent auf {points} Punkte nach. Der marktbreite S&P 500 und "
        f"der technologielastige NASDAQ 100 verloren ebenfalls, der NASDAQ 100 schloss bei {nasdaq} Punkten. "
        "Anleger blickten sorgenvoll auf die Spannungen zwischen den USA und China sowie auf den Ölpreis. "
        "Aktien von Apple, Tesla und Amazon gaben nach, die Papiere von Boeing und ExxonMobil ebenso.",
        "de",
        at,
    )


def test_daily_market_reports_of_different_days_stay_apart(tmp_path: Path, make_config: Any) -> None:
    """The same index, companies and wording every day: the day the lede names tells them apart."""
    monday = market_report("monday-close", "Montag", "1,39", "23.390,77", "8.332,74", MONDAY + timedelta(hours=13))
    tuesday = market_report("tuesday-close", "Dienstag", "0,84", "23.194,10", "8.263,23", MONDAY + timedelta(hours=37))
    assert not one_story(monday, tuesday, tmp_path, make_config)
    # Monday's close told by another outlet is Monday's story.
    retold = Story(
        "monday-close-retold",
        "Wall Street: Dow Jones schließt 1,39 Prozent tiefer bei 23.390,77 Punkten",
        "Die New Yorker Börsen haben den Handel am Montag schwächer beendet: Der Dow Jones Industrial fiel um "
        "1,39 Prozent auf 23.390,77 Punkte, der NASDAQ 100 auf 8.332,74 Punkte. Belastet haben die Sorge um "
        "den Ölpreis und die Spannungen zwischen den USA und China; Apple, Tesla und Amazon lagen im Minus.",
        "de",
        MONDAY + timedelta(hours=14),
    )
    assert one_story(monday, retold, tmp_path / "retold", make_config)


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("北京时间 12 月 31 日晚", {"12-31"}),
        ("2019年12月31日，武汉", {"12-31", "2019-12"}),
        ("2020年1月发布", {"2020-01"}),
        ("31 grudnia 2019 r.", {"12-31", "2019-12"}),
        ("31 декабря 2019 года", {"12-31", "2019-12"}),
        ("el 31 de diciembre", set()),  # "de" between day and month is not read (yet)
        ("am 31.12.2019 um", {"12-31", "2019-12"}),
    ],
)
def test_dates_in_the_feed_languages(text: str, dates: set[str]) -> None:
    assert set(story_features(Document("", text), None).dates) == dates


def test_contact_numbers_are_not_numbers_of_the_story() -> None:
    features = story_features(Document("Einbruch", "Es entstand ein Schaden von 2.500 Euro.\n" + POLICE_FOOTER), None)
    assert features.numbers == ("2500",)


def test_contact_numbers_blanked_where_the_contact_pattern_finds_them() -> None:
    """The blanking tries the contact pattern only near runs of digits: it blanks exactly
    what the pattern finds scanning every character, on labels, postcodes and numbers
    glued in any order (case, accents, Cyrillic and CJK labels, Unicode spaces and digits)."""
    pieces = [
        *("Tel", "tel.", "TEL:", "Telefon", "téléphone", "TÉLÉPHONE", "тел", "ТЕЛЕФОН", "电话", "Fax", "ext", "mobile"),
        *(" ", "  ", "\n", "\u00a0", ".", ":", "+", "(", ")", "-", "/", ", ", "hotel", "x", "D-", "MN "),
        *("0", "12", "123", "2024", "68161", "030", "+49", "(0)", "555-1234", "(323) 890-5500", "١٢٣", "²"),
        *(" Mannheim", " Straße", "Berlin"),
    ]
    rng = random.Random(7)
    texts = [POLICE_FOOTER] + ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(20_000)]
    for text in texts:
        expected = features._CONTACT.sub(lambda match: " " * len(match.group()), text)
        assert features._blank_contacts(text) == expected, text


def test_a_headlines_first_word_is_not_a_name() -> None:
    headline = "Flames kill 30 animals at Krefeld zoo"
    features = story_features(Document(headline, "The ape house of Krefeld Zoo burned down, police said."), None)
    assert "flames" not in features.names and "flames" not in features.title_names
    assert "krefeld" in features.names
