"""Atom 1.0 feeds of the matched stories: one per topic, one for all of them.

One entry per story, not per copy: it carries the matched snippet and every outlet and
language, and its ``updated`` moves when the story grows, so a reader shows it again.
Answers carry an ETag and Last-Modified; a reader that sends them back gets 304.
"""

from __future__ import annotations

import hashlib
import html
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from importlib import metadata

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from monitor.api.slug import topic_slug
from monitor.config import Config
from monitor.store.interface import Store
from monitor.store.records import StoryEntry

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
ENTRIES = 50  # the most recently grown stories; readers keep what they have seen
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the `updated` of a feed with no entry yet

router = APIRouter(prefix="/feeds", tags=["feeds"])
ET.register_namespace("", ATOM)


@router.get("/all.atom", response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}})
def all_stories(request: Request) -> Response:
    """Every matched story, of any topic."""
    store: Store = request.app.state.store
    entries = store.story_entries(limit=ENTRIES)
    return _answer(request, "all", "monitor: every topic", "Stories matching any watched topic", entries)


@router.get(
    "/topics/{slug}.atom",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}, 404: {"description": "no topic has this slug"}},
)
def topic_stories(request: Request, slug: str) -> Response:
    """The stories of one topic; ``slug`` is its name lower-cased, non-alphanumerics as ``-``."""
    config: Config = request.app.state.config
    topic = next((t for t in config.topics if topic_slug(t.name) == slug), None)
    if topic is None:
        slugs = ", ".join(topic_slug(t.name) for t in config.topics) or "none"
        raise HTTPException(404, f"no topic has the slug {slug!r}; the topics' slugs are: {slugs}")
    store: Store = request.app.state.store
    entries = store.story_entries(topic=topic.name, limit=ENTRIES)
    return _answer(request, f"topics/{slug}", f"monitor: {topic.name}", f"Stories matching {topic.query}", entries)


def _answer(request: Request, name: str, title: str, subtitle: str, entries: Sequence[StoryEntry]) -> Response:
    base = str(request.base_url).rstrip("/")
    authority = request.url.hostname or "localhost"
    body = render_feed(
        feed_id=f"tag:{authority},2024:monitor/feeds/{name}",
        title=title,
        subtitle=subtitle,
        self_url=f"{base}/feeds/{name}.atom",  # never the ?token= of the request
        story_page=lambda story_id: f"{base}/stories/{story_id}",
        story_json=lambda story_id: f"{base}/api/v1/stories/{story_id}",
        entry_id=lambda story_id: f"tag:{authority},2024:monitor/story/{story_id}",
        entries=entries,
    )
    updated = _newest(entries).replace(microsecond=0)
    headers = {
        "ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        "Last-Modified": format_datetime(updated, usegmt=True),
        "Cache-Control": "no-cache",  # readers may keep it, asking each time whether it changed
    }
    if _not_modified(request, headers["ETag"], updated):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)


def _not_modified(request: Request, etag: str, updated: datetime) -> bool:
    """RFC 9110: If-None-Match decides when sent; If-Modified-Since only without it."""
    if (tags := request.headers.get("if-none-match")) is not None:
        return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in tags.split(","))
    if (since := request.headers.get("if-modified-since")) is not None:
        try:
            return updated <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False  # a date that cannot be read: send the feed
    return False


def _newest(entries: Sequence[StoryEntry]) -> datetime:
    return max((e.updated for e in entries), default=EPOCH)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _generator_version() -> str:
    try:
        return metadata.version("monitor")
    except metadata.PackageNotFoundError:
        return "dev"


def render_feed(
    *,
    feed_id: str,
    title: str,
    subtitle: str,
    self_url: str,
    story_page: Callable[[int], str],
    story_json: Callable[[int], str],
    entry_id: Callable[[int], str],
    entries: Sequence[StoryEntry],
) -> bytes:
    """An Atom 1.0 document (RFC 4287): ids, titles, updated and links on the feed and each entry."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", feed_id)
    _text(feed, "title", title)
    _text(feed, "subtitle", subtitle)
    _text(feed, "updated", _when(_newest(entries)))
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml", href=self_url)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "monitor")
    generator = _text(feed, "generator", "monitor")
    generator.set("version", _generator_version())
    for story in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", entry_id(story.story_id))
        _text(entry, "title", story.title or "(no title)")
        _text(entry, "published", _when(story.first_seen))
        _text(entry, "updated", _when(story.updated))
        first, *others = story.outlets or (None,)
        page = story_page(story.story_id)  # every copy side by side, on the web page
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=first.url if first else page)
        for outlet in others:
            link = ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", type="text/html", href=outlet.url)
            link.set("title", f"{outlet.feed}: {outlet.title}")
            if outlet.language:
                link.set("hreflang", outlet.language)
        if first:
            ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", type="text/html", href=page, title="the story")
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="via", type="application/json", href=story_json(story.story_id))
        for topic in story.topics:
            ET.SubElement(entry, f"{{{ATOM}}}category", term=topic)
        summary = _text(entry, "summary", _for_readers(story.snippet) or html.escape(story.title))
        summary.set("type", "html")
        content = _text(entry, "content", _content_html(story))
        content.set("type", "html")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + document


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = text
    return element


def _for_readers(snippet: str) -> str:
    """The snippet (escaped text, hits in <mark>) with the hits in <strong>: feed readers
    drop <mark> from what they show, and the hits with it."""
    return snippet.replace("<mark>", "<strong>").replace("</mark>", "</strong>")


def _content_html(story: StoryEntry) -> str:
    languages = sorted({o.language for o in story.outlets if o.language})
    outlets = "".join(
        f'<li><a href="{html.escape(o.url)}">{html.escape(o.title)}</a> ({html.escape(o.feed)}'
        f"{', ' + html.escape(o.language) if o.language else ''})</li>"
        for o in story.outlets
    )
    return (
        f"<p>{_for_readers(story.snippet)}</p>"
        f"<p>{len(story.outlets)} outlet(s) in {html.escape(', '.join(languages) or 'an unknown language')}; "
        f"topics: {html.escape(', '.join(story.topics))}</p>"
        f"<ul>{outlets}</ul>"
    )
