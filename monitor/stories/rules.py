"""The knobs of story clustering, apart from the clustering itself.

A module of its own so that a process that only polls (an all-304 cycle) can hold the
rules without loading the clustering and its numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from . import decision


@dataclass(frozen=True, slots=True)
class StoryRules:
    """Thresholds of the story decision; every field can be set in the configuration.

    window: only articles published (or seen) this close to the new one are compared.
    copy_threshold: estimated Jaccard similarity of word 3-shingles from which an
        article is a copy of another (syndication, a re-edited version).
    event_threshold: the fitted probability (see ``signals`` and docs/stories.md) from
        which two articles report the same event; chosen for precision first, since a
        false merge swallows an alert.
    """

    window: timedelta = timedelta(hours=72)
    copy_threshold: float = 0.5
    event_threshold: float = decision.THRESHOLD
