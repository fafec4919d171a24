"""Article pages for the benchmarks: seed text inside a news site's page, as sites serve them.

A news article's HTML is mostly not the article: portals commonly serve 50-300 KB of
markup (inline CSS and JS, JSON-LD, a mega-menu, teasers of related stories, comments,
a long footer) around 3-6 KB of prose, and extraction cost grows with that markup, not
with the prose. ``news_page`` builds such a page from the seed documents, on the light
side of that range (65-95 KB, about 700 elements); ``light_page`` is the bare 5-8 KB page
the polling benchmark used first, kept to show the fixed per-article cost when
extraction is almost free.
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

SECTIONS = ("Berita", "Tekno", "Bisnis", "Internasional", "Olahraga", "Otomotif", "Hiburan", "Sains", "Opini", "Video")


@dataclass(frozen=True)
class Seed:
    title: str
    paragraphs: list[str]
    language: str


SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def load_seeds() -> list[Seed]:
    """The seed documents of labels.yaml, as title, paragraphs and language."""
    labels = yaml.safe_load((SEEDS / "labels.yaml").read_text(encoding="utf-8"))
    found = []
    for name, label in sorted(labels["documents"].items()):
        _, _, body = (SEEDS / name).read_text(encoding="utf-8").partition("\n")
        found.append(Seed(label["title"], [p.strip() for p in body.split("\n") if p.strip()], label["language"]))
    return found


@dataclass(frozen=True)
class Story:
    """What one page says: a headline, its paragraphs, and other seeds' lines for the furniture."""

    title: str
    paragraphs: list[str]
    language: str
    others: list[str]
    published: datetime


def story(seeds: list[Seed], feed: int, item: int, published: datetime) -> Story:
    """A unique article: one seed's paragraphs, topped up to 3-6 KB with lines of the others."""
    rng = random.Random(feed * 1000 + item)
    primary = seeds[rng.randrange(len(seeds))]
    paragraphs = [f"Laporan {feed}-{item}: catatan redaksi nomor {rng.randrange(10**9)}.", *primary.paragraphs]
    others = [p for s in seeds if s is not primary for p in s.paragraphs]
    target = rng.randrange(3000, 6000)
    while sum(len(p) for p in paragraphs) < target:
        paragraphs.append(rng.choice(others))
    while sum(len(p) for p in paragraphs) > 6000:
        paragraphs.pop()
    return Story(f"{primary.title} ({feed}-{item})", paragraphs, primary.language, others, published)


def light_page(page: Story) -> bytes:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in page.paragraphs)
    rng = random.Random(page.title)
    related = "".join(f'<li><a href="/x/{rng.randrange(10**6)}">Berita terkait {n}</a></li>' for n in range(12))
    title = html.escape(page.title)
    return f"""<!DOCTYPE html>
<html lang="{page.language}"><head><meta charset="utf-8">
<title>{title} | Warta</title>
<meta name="viewport" content="width=device-width"><link rel="stylesheet" href="/s.css">
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}</script>
<style>body{{font-family:sans-serif}} .ad{{background:#eee}} nav a{{margin:0 1em}}</style></head>
<body><header><nav><a href="/">Home</a><a href="/tekno">Tekno</a><a href="/bisnis">Bisnis</a>
<a href="/olahraga">Olahraga</a><a href="/login">Login</a></nav></header>
<div class="ad">Advertisement: Nyaman tanpa iklan. Langganan sekarang!</div>
<main><article><h1>{title}</h1>
<p class="byline">Redaksi, {page.published:%d %B %Y %H:%M}</p>
{body}
</article>
<section class="comments"><h3>Komentar</h3>
<p>Belum ada komentar. Jadilah yang pertama!</p></section>
</main><aside><h3>Terpopuler</h3><ul>{related}</ul></aside>
<footer>© 2024 Warta. All rights reserved.
Privacy · Terms · Contact · Karir · Pedoman Media Siber</footer>
</body></html>""".encode()


def news_page(page: Story) -> bytes:
    rng = random.Random(page.title)
    title = html.escape(page.title)

    def words(n: int) -> str:
        line = rng.choice(page.others).split()
        return html.escape(" ".join(line[:n]))

    def link(text: str) -> str:
        return f'<a href="/{rng.choice(SECTIONS).lower()}/{rng.randrange(10**7)}/{rng.randrange(10**5)}">{text}</a>'

    def script(kilobytes: int) -> str:
        # Minified-looking configuration and ad code: parsed as text, never read.
        chunk = (
            "!function(w,d){{var s=d.createElement('script');s.async=!0;s.src='https://cdn.example/ads/{n}.js';"
            "w.adq=w.adq||[];w.adq.push({{slot:'div-gpt-{n}',sizes:[[300,250],[728,90]],targeting:{{kw:'{k}'}}}})}}"
            "(window,document);"
        )
        parts, size = [], 0
        while size < kilobytes * 1024:
            parts.append(chunk.format(n=rng.randrange(10**6), k=rng.randrange(10**4)))
            size += len(parts[-1])
        return f"<script>{''.join(parts)}</script>"

    menu = "".join(
        f'<li class="menu__item"><a href="/{section.lower()}">{section}</a><ul class="menu__sub">'
        + "".join(f"<li>{link(words(2))}</li>" for _ in range(rng.randrange(8, 16)))
        + "</ul></li>"
        for section in SECTIONS
    )
    ticker = "".join(f'<li class="ticker__item">{link(words(8))}</li>' for _ in range(8))
    share = "".join(
        f'<a class="share share--{name}" href="https://{name}.example/share?u={rng.randrange(10**9)}">{name}</a>'
        for name in ("facebook", "x", "whatsapp", "telegram", "linkedin", "copy")
    )
    body: list[str] = []
    for n, paragraph in enumerate(page.paragraphs):
        body.append(f"<p>{html.escape(paragraph)}</p>")
        if n in (2, 6):
            body.append(f'<div class="read-also"><strong>Baca juga:</strong> {link(words(9))}</div>')
        if n in (3, 8):
            body.append(f'<div class="ad ad--inline" id="div-gpt-{n}">{script(1)}</div>')
    teasers = "".join(
        f'<div class="card"><a class="card__img" href="/x/{rng.randrange(10**6)}">'
        f'<img src="/img/{rng.randrange(10**6)}.jpg" alt="{words(4)}" loading="lazy" width="320" height="180"></a>'
        f'<div class="card__body"><span class="card__section">{rng.choice(SECTIONS)}</span>'
        f"<h3>{link(words(10))}</h3><p>{words(22)}</p><time>{rng.randrange(1, 59)} menit lalu</time></div></div>"
        for _ in range(rng.randrange(8, 16))
    )
    popular = "".join(f'<li><span class="rank">{n}</span>{link(words(9))}</li>' for n in range(1, 11))
    comments = "".join(
        f'<div class="comment"><div class="comment__head"><img src="/u/{rng.randrange(10**5)}.png" alt="">'
        f'<a href="/u/{rng.randrange(10**5)}">pembaca{rng.randrange(10**4)}</a>'
        f"<time>{rng.randrange(1, 23)} jam lalu</time></div><p>{words(30)}</p>"
        f'<div class="comment__actions"><button>Balas</button><button>Suka {rng.randrange(99)}</button></div></div>'
        for _ in range(rng.randrange(3, 9))
    )
    footer = "".join(
        f'<div class="footer__col"><h4>{section}</h4><ul>'
        + "".join(f"<li>{link(words(3))}</li>" for _ in range(10))
        + "</ul></div>"
        for section in SECTIONS[:6]
    )
    json_ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": page.title,
            "datePublished": page.published.isoformat(),
            "dateModified": (page.published + timedelta(minutes=30)).isoformat(),
            "author": {"@type": "Person", "name": "Redaksi Warta"},
            "publisher": {"@type": "Organization", "name": "Warta", "logo": {"@type": "ImageObject", "url": "/l.png"}},
            "description": page.paragraphs[1][:200],
            "keywords": [words(1) for _ in range(8)],
        },
        ensure_ascii=False,
    )
    metas = "".join(
        f'<meta property="{name}" content="{html.escape(value)}">'
        for name, value in (
            ("og:title", page.title),
            ("og:type", "article"),
            ("og:description", page.paragraphs[1][:200]),
            ("og:image", f"/img/{rng.randrange(10**6)}.jpg"),
            ("article:published_time", page.published.isoformat()),
            ("article:section", rng.choice(SECTIONS)),
            ("twitter:card", "summary_large_image"),
            ("twitter:title", page.title),
        )
    )
    css = "".join(
        f".c{n}{{margin:{n % 7}px {n % 5}px;padding:{n % 3}em;color:#{rng.randrange(16**6):06x};"
        f"font:{12 + n % 6}px/1.{n % 9} sans-serif}}"
        for n in range(rng.randrange(150, 300))
    )
    return f"""<!DOCTYPE html>
<html lang="{page.language}"><head><meta charset="utf-8">
<title>{title} | Warta</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{metas}
<link rel="canonical" href="/a/{rng.randrange(10**7)}"><link rel="preload" href="/f/inter.woff2" as="font">
<style>{css}</style>
<script type="application/ld+json">{json_ld}</script>
{script(rng.randrange(8, 24))}
</head>
<body class="article-page"><div class="ad ad--top" id="div-gpt-top">{script(1)}</div>
<header class="site-header"><a class="logo" href="/"><img src="/l.svg" alt="Warta"></a>
<form class="search" action="/cari"><input name="q" placeholder="Cari berita"><button>Cari</button></form>
<a href="/login">Masuk</a> <a href="/daftar">Daftar</a>
<nav class="menu"><ul>{menu}</ul></nav></header>
<div class="ticker"><span>Terkini</span><ul>{ticker}</ul></div>
<main class="layout"><div class="layout__main">
<ol class="breadcrumb"><li><a href="/">Home</a></li><li><a href="/tekno">Tekno</a></li></ol>
<article class="detail"><h1 class="detail__title">{title}</h1>
<div class="detail__meta"><a class="author" href="/penulis/redaksi">Redaksi Warta</a> -
<time datetime="{page.published.isoformat()}">{page.published:%d %B %Y %H:%M}</time></div>
<div class="share">{share}</div>
<figure class="detail__media"><img src="/img/{rng.randrange(10**6)}.jpg" alt="{words(5)}" width="1200" height="675">
<figcaption>{words(12)} (Foto: Warta)</figcaption></figure>
<div class="detail__body">{"".join(body)}</div>
<div class="tags">{"".join(f'<a class="tag" href="/tag/{n}">{words(1)}</a>' for n in range(6))}</div>
<div class="share share--bottom">{share}</div>
</article>
<section class="related"><h2>Berita Terkait</h2>{teasers}</section>
<section class="comments"><h2>Komentar</h2>{comments}
<form><textarea placeholder="Tulis komentar"></textarea><button>Kirim</button></form></section>
</div>
<aside class="layout__side"><div class="ad ad--side">{script(1)}</div>
<section class="popular"><h2>Terpopuler</h2><ol>{popular}</ol></section></aside></main>
<footer class="site-footer">{footer}
<p>Gedung Warta Lt. 5, Jl. Merdeka No. {rng.randrange(1, 200)}, Jakarta. © 2024 Warta. Hak cipta dilindungi.</p>
<p><a href="/privasi">Kebijakan Privasi</a> · <a href="/pedoman">Pedoman Media Siber</a> ·
<a href="/karir">Karir</a></p>
</footer>
{script(rng.randrange(6, 16))}
</body></html>""".encode()


PAGE_STYLES = {"news": news_page, "light": light_page}
