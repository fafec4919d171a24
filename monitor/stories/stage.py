"""The story stage: which story a new article joins, as the orchestrator hands it to the store.

The store finds the candidates (stored articles sharing the new one's index keys, inside
the window) and writes the outcome in the transaction that stores the article, so the
stories it joins are the ones it commits into; what the keys are and which candidate
wins is decided here. The clustering (and its numpy) loads with the first article
stored, not when the stage is built: a poll of unchanged feeds never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from .rules import StoryRules

if TYPE_CHECKING:
    from .clustering import Assignment, Candidate
    from .features import StoryFeatures


@dataclass(frozen=True, slots=True)
class AssignStory:
    """Assign a new article to a story under ``rules`` (monitor.store.interface.StoryDecision)."""

    rules: StoryRules = field(default_factory=StoryRules)

    @property
    def window(self) -> timedelta:
        """Candidates are the articles stored this long before the new one, or since."""
        return self.rules.window

    def keys(self, features: StoryFeatures) -> list[str]:
        """The keys an article is filed under and its candidates found by: each once, sorted."""
        from .clustering import index_keys

        return sorted(set(index_keys(features)))

    def __call__(self, features: StoryFeatures, candidates: Sequence[Candidate]) -> Assignment:
        """Join the story of the closest candidate, or start one (``story_id`` None)."""
        from .clustering import assign

        return assign(features, candidates, self.rules)
