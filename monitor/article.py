"""Everything CPU-bound one new article needs, in one pure call made in a worker process.

Extraction, language identification, topic matching and story features all read the
same text; doing them together in the worker means the page crosses the process
boundary once, the event loop only fetches and stores, and both cores work. Pure: the
compiled topics and the time are arguments (``monitor.workers`` keeps each worker's
topics and calls ``analyse`` with them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from monitor import stories
from monitor.extract import extract_article
from monitor.model import FEED, PAGE, REJECTED, Document, Entry, TopicMatch
from monitor.not_article import why_not_article
from monitor.text import detect_language
from monitor.topics import TopicSet

MIN_WORDS_FOR_TEXT_IDENTITY = 50
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_DATE_AHEAD = timedelta(days=2)  # time zones and clocks a little ahead, not typos like 2099


@dataclass(frozen=True, slots=True)
class Analysed:
    """One article as the store needs it."""

    document: Document  # its text_source says where the text came from
    published_at: datetime | None
    matches: list[TopicMatch]  # without their hits: the store keeps terms and snippet, not offsets
    features: stories.StoryFeatures
    text_hash: str | None  # see text_identity; None for rejected text
    page_hash: str | None = None  # stories.text_hash of the page's text when it is the article's text


def text_identity(text: str, digest: str | None = None) -> str | None:
    """The text's hash, when equal text means the same item: real prose, not a one-line summary many feeds share.

    ``digest``: ``stories.text_hash(text)`` when the caller has it already.
    """
    if len(text.split()) < MIN_WORDS_FOR_TEXT_IDENTITY:
        return None
    return (stories.text_hash(text) if digest is None else digest) or None


def plausible_date(moment: datetime | None, now: datetime) -> datetime | None:
    """``moment`` when a page's publication date can be it (1990 to two days after ``now``), else None."""
    if moment is None or not EARLIEST_DATE <= moment <= now + LATEST_DATE_AHEAD:
        return None
    return moment


def choose_text(title: str, page_text: str, summary: str, page_rejected: str | None = None) -> tuple[str, str]:
    """The article's text and where it came from: the page's, else the feed's, else rejected.

    A page text that is not an article (``why_not_article``, or ``page_rejected`` given by
    the caller) gives way to the feed's own text; when that is no article either, the text
    is kept for people to look at, marked "rejected: <reason>" so nothing reads it as prose.
    """
    reason = page_rejected
    if page_text and reason is None:
        reason = why_not_article(title, page_text)
        if reason is None:
            return page_text, PAGE
    if summary:
        summary_reason = why_not_article(title, summary)
        if summary_reason is None:
            return summary, FEED
        reason = reason or summary_reason
    if reason is None:
        return "", FEED  # no page text and an empty summary: the title is all there is
    return page_text or summary, f"{REJECTED}: {reason}"


def as_read(document: Document) -> Document:
    """``document`` as the topic matcher and the story features read it.

    Rejected text is shown to people but read by nothing: not a topic match, never a copy
    or same-event signal, so they see the title only; and not even the title when it is
    itself wall text (a wall's first line taken for the headline: "Przykro nam, ale z
    adresu IP... ogromną ilość połączeń"), which every page of the wall shares.
    """
    if not document.text_rejected:
        return document
    return replace(document, title="" if why_not_article("", document.title) else document.title, text="")


def analyse(
    entry: Entry,
    feed_language: str | None,
    topics: TopicSet,
    now: datetime,
    page: bytes | None = None,
    page_url: str = "",
    page_rejected: str | None = None,
) -> Analysed | None:
    """The article behind ``entry``: the page's text when it is an article, else the feed's own.

    ``topics``: what to match it against; ``now``: the time, against which the page's
    publication date is checked. ``page_rejected``: why the caller already knows the
    page is no article (it then passes no page). None when there is nothing to store
    (no title and no text).
    """
    title = entry.title
    declared, published = entry.language or feed_language, entry.published_at
    need_metadata = not (title and published)
    extracted = extract_article(page, page_url or entry.url, metadata=need_metadata) if page else None
    page_text = ""
    if extracted is not None:
        page_text = extracted.text
        title = title or (extracted.title or "")
        declared = extracted.language or declared
        published = published or plausible_date(extracted.published_at, now)
    text, source = choose_text(title, page_text, entry.summary, page_rejected)
    if not text and not title:
        return None
    document = Document(title=title, text=text, url=entry.url, text_source=source)
    read = as_read(document)
    document = replace(document, language=detect_language(f"{title}\n{read.text}", declared))
    read = replace(read, language=document.language)
    # The page's text is the article's text when it is the source: hashed once for both uses.
    page_digest = stories.text_hash(page_text) if source == PAGE else None
    return Analysed(
        document=document,
        published_at=published,
        # Dozens of Hit objects per article would double what crosses back to the event loop.
        matches=[replace(match, hits=()) for match in topics.match(read)],
        features=stories.story_features(read, published),
        text_hash=text_identity(read.text, page_digest),
        page_hash=page_digest or None,
    )
