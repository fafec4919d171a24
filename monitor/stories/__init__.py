"""Story clustering (pure): one story per event, across copies, outlets and languages.

Level 1, the same item: ``canonical_url`` and ``text_hash`` (the store keeps them unique).
Level 2, copies: MinHash over word shingles, LSH bands as index keys.
Level 3, the same event elsewhere: names, numbers, dates and headline n-grams that
survive translation, plus same-language text similarity. See docs/stories.md.

The names below load their module on first use: reading ``decision.THRESHOLD`` (the
config does) must not import numpy and courlan, which only the clustering needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clustering import COPY_SIGNAL, Assignment, Candidate, assign, index_keys
    from .features import StoryFeatures, story_features
    from .rules import StoryRules
    from .stage import AssignStory
    from .urls import canonical_url, text_hash

_HOME = {
    "AssignStory": "stage",
    "COPY_SIGNAL": "clustering",
    "Assignment": "clustering",
    "Candidate": "clustering",
    "StoryRules": "rules",
    "assign": "clustering",
    "index_keys": "clustering",
    "StoryFeatures": "features",
    "story_features": "features",
    "canonical_url": "urls",
    "text_hash": "urls",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value  # found directly next time
    return value


__all__ = [
    "COPY_SIGNAL",
    "AssignStory",
    "Assignment",
    "Candidate",
    "StoryFeatures",
    "StoryRules",
    "assign",
    "canonical_url",
    "index_keys",
    "story_features",
    "text_hash",
]
