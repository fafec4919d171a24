"""Topic names in URLs."""

from __future__ import annotations

import re

_NOT_ALNUM = re.compile(r"[\W_]+")


def topic_slug(name: str) -> str:
    """The topic name lower-cased, each run of non-alphanumerics one ``-``: "TikTok ban" → "tiktok-ban"."""
    return _NOT_ALNUM.sub("-", name.lower()).strip("-") or "-"
