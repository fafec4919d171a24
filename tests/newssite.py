"""Articles published the way a news site would, for the story tests: one RSS feed per
outlet, one HTML page per article (headline, body paragraphs, the site's furniture)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from hostile import HostileServer

SUMMARY_CHARS = 300


@dataclass(frozen=True)
class Story:
    """One article as its outlet publishes it."""

    slug: str
    title: str
    text: str
    language: str
    published_at: datetime | None = None


def page_html(item: Story) -> bytes:
    paragraphs = "\n".join(f"<p>{html.escape(line.strip())}</p>" for line in item.text.split("\n") if line.strip())
    return f"""<!DOCTYPE html>
<html lang="{item.language}"><head><meta charset="utf-8"><title>{html.escape(item.title)}</title></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<main><article><h1>{html.escape(item.title)}</h1>
{paragraphs}
</article></main><footer>© News site</footer></body></html>""".encode()


def feed_xml(base: str, items: list[Story]) -> bytes:
    entries = "\n".join(
        f"""<item><title>{html.escape(item.title)}</title><link>{base}/a/{item.slug}.html</link>
<guid isPermaLink="false">{item.slug}</guid>{
            f"<pubDate>{format_datetime(item.published_at)}</pubDate>" if item.published_at else ""
        }<description>{html.escape(item.text[:SUMMARY_CHARS])}</description></item>"""
        for item in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>News</title><link>{base}/</link><description>News</description>
{entries}
</channel></rss>""".encode()


def publish(server: HostileServer, outlet: str, items: list[Story]) -> str:
    """Serve ``items`` as ``outlet``'s feed and pages on ``server``; returns the feed URL."""
    base = server.url(f"/{outlet}")
    for item in items:
        server.serve(
            f"/{outlet}/a/{item.slug}.html", page_html(item), headers={"content-type": "text/html; charset=utf-8"}
        )
    server.serve(f"/{outlet}/feed.xml", feed_xml(base, items), headers={"content-type": "application/rss+xml"})
    return server.url(f"/{outlet}/feed.xml")


def story_of_each_page(stories: list[dict[str, object]]) -> dict[str, int]:
    """``monitor stories --format json`` rows -> {article slug: story id}."""
    found = {}
    for story in stories:
        for article in story["articles"]:  # type: ignore[attr-defined]
            found[str(article["url"]).rsplit("/", 1)[-1].removesuffix(".html")] = int(story["id"])  # type: ignore[call-overload]
    return found
