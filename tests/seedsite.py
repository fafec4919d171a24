"""The seed documents published the way a news site would: an RSS feed and HTML pages.

Each page wraps the seed's text in site boilerplate (navigation, ads, related links,
footer), so the pipeline has to extract the article the way it does in production.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import yaml
from hostile import HostileServer, conditional

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
LABELS = yaml.safe_load((SEEDS / "labels.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Seed:
    name: str  # file name, the key in labels.yaml
    title: str
    body: str
    language: str
    topics: frozenset[str]
    story: str


def seeds() -> list[Seed]:
    found = []
    for name, label in sorted(LABELS["documents"].items()):
        _, _, body = (SEEDS / name).read_text(encoding="utf-8").partition("\n")
        found.append(
            Seed(
                name,
                label["title"],
                body.strip(),
                label["language"],
                frozenset(label["topics"]),
                label["story"],
            )
        )
    return found


def page_html(seed: Seed) -> bytes:
    paragraphs = "\n".join(f"<p>{html.escape(p.strip())}</p>" for p in seed.body.split("\n") if p.strip())
    return f"""<!DOCTYPE html>
<html lang="{seed.language}"><head><meta charset="utf-8">
<title>{html.escape(seed.title)} | Warta Teknologi</title></head>
<body>
<header><nav><a href="/">Home</a> <a href="/tekno">Tekno</a> <a href="/bisnis">Bisnis</a>
<a href="/login">Login</a></nav></header>
<div class="ad">Advertisement: Nyaman tanpa iklan. Langganan sekarang!</div>
<main><article>
<h1>{html.escape(seed.title)}</h1>
<p class="byline">Redaksi, {datetime(2024, 10, 22, tzinfo=UTC):%d %B %Y}</p>
{paragraphs}
</article></main>
<aside><h3>Trending</h3><ul><li><a href="/x/1">Harga emas hari ini</a></li>
<li><a href="/x/2">Jadwal liga</a></li></ul></aside>
<footer>© 2024 Warta Teknologi. All rights reserved. Privacy · Terms · Contact</footer>
</body></html>""".encode()


def feed_xml(base: str, items: list[Seed]) -> bytes:
    start = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
    entries = "\n".join(
        f"""<item><title>{html.escape(s.title)}</title><link>{base}/news/{s.name}.html</link>
<guid isPermaLink="false">seed-{s.name}</guid><pubDate>{format_datetime(start + timedelta(minutes=10 * i))}</pubDate>
<description>{html.escape(s.body[:200])}</description></item>"""
        for i, s in enumerate(items)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Seed news</title><link>{base}/</link><description>Seeds</description>
{entries}
</channel></rss>""".encode()


def publish(server: HostileServer, path: str = "/feed.xml", items: list[Seed] | None = None) -> str:
    """Serve the seeds on ``server``; returns the feed URL (which answers 304 to its ETag)."""
    items = seeds() if items is None else items
    base = server.url("")
    for seed in items:
        server.serve(
            f"/news/{seed.name}.html",
            page_html(seed),
            headers={"content-type": "text/html; charset=utf-8"},
        )
    server.route(
        path,
        conditional(
            feed_xml(base, items),
            etag='"seeds-v1"',
            last_modified="Tue, 22 Oct 2024 09:00:00 GMT",
            content_type="application/rss+xml; charset=utf-8",
        ),
    )
    return server.url(path)


def article_page(seed: str, lang: str, date: str = "2024-10-21") -> bytes:
    title, _, body = (SEEDS / seed).read_text(encoding="utf-8").partition("\n")
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines() if line)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Site'
        f'</title><meta property="article:published_time" content="{date}T08:00:00+00:00">'
        "</head><body><nav><a href='/'>Home</a><a href='/tech'>Tech</a></nav>"
        f"<article><h1>{html.escape(title)}</h1>{paragraphs}</article>"
        "<footer>© Site — newsletter — privacy</footer></body></html>"
    ).encode()
