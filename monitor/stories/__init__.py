"""Story clustering (pure): one story per event, across copies, outlets and languages.

Level 1, the same item: ``canonical_url`` and ``text_hash`` (the store keeps them unique).
Level 2, copies: MinHash over word shingles, LSH bands as index keys.
Level 3, the same event elsewhere: names, numbers, dates and headline n-grams that
survive translation, plus same-language text similarity. See docs/stories.md.
"""

from .clustering import COPY_SIGNAL, Assignment, Candidate, StoryRules, assign, index_keys
from .features import StoryFeatures, story_features
from .urls import canonical_url, text_hash

__all__ = [
    "COPY_SIGNAL",
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
