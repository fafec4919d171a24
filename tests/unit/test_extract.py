"""Article extraction: text, title, declared language and date out of a page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import ROOT
from seedsite import article_page

from monitor.article import analyse
from monitor.extract import declared_language, extract_article
from monitor.model import Entry
from monitor.topics import TopicSet

SEEDS = ROOT / "seeds"


def test_seed_page_text_title_language_and_date() -> None:
    page = article_page("000_dc6b95992fa60b00.txt", "id")
    result = extract_article(page, "https://news.example/a")
    assert result is not None
    assert result.title == "Karyawan Magang TikTok Dipecat Usai Diduga Sabotase Model AI"
    assert "ByteDance, induk perusahaan TikTok" in result.text
    assert "newsletter" not in result.text and "Home" not in result.text
    assert result.language == "id"
    assert result.published_at == datetime(2024, 10, 21, tzinfo=UTC)  # trafilatura: days
    # When the feed already gave title and date, the page's are not looked for; same text.
    lean = extract_article(page, "https://news.example/a", metadata=False)
    assert lean is not None and lean.text == result.text and lean.language == "id"
    assert lean.title is None and lean.published_at is None


@pytest.mark.parametrize(
    "page",
    [b"", b"%PDF-1.4 \x00\x01\x02 binary", b"<html><body><nav>only a menu</nav></body></html>"],
)
def test_pages_without_article_text_give_none(page: bytes) -> None:
    assert extract_article(page, "https://news.example/x") is None


def test_a_page_date_counts_only_up_to_two_days_after_the_time_given() -> None:
    # extract_article reads the date; analyse, given the time, decides whether it can be true.
    entry = Entry(guid="g", url="https://news.example/de", title="", summary="", published_at=None)

    def published(date: str, now: datetime) -> datetime | None:
        page = article_page("002_0ed58fc63b818811.txt", "de", date=date)
        analysed = analyse(entry, None, TopicSet.compile([]), now, page, entry.url)
        assert analysed is not None
        return analysed.published_at

    assert published("2999-01-01", datetime.now(UTC)) is None
    assert published("1989-12-31", datetime.now(UTC)) is None
    assert published("2024-10-21", datetime(2024, 10, 20, tzinfo=UTC)) == datetime(2024, 10, 21, tzinfo=UTC)
    assert published("2024-10-21", datetime(2024, 10, 18, tzinfo=UTC)) is None  # three days ahead of "now"


@pytest.mark.parametrize(
    ("head", "language"),
    [
        (b'<html class="x" lang="de-AT">', "de"),
        (b"<html lang=fr>", "fr"),
        (b'<html><meta http-equiv="Content-Language" content="id">', "id"),
        (b'<html><meta property="og:locale" content="fr_FR">', "fr"),
        (b"<html><head>", None),
    ],
)
def test_declared_language(head: bytes, language: str | None) -> None:
    assert declared_language(head + b"<body></body></html>") == language
