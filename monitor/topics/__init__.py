"""Topic queries: parse -> tree -> compiled matchers over one presearch automaton.

The query language is documented in docs/query-language.md. ``TopicSet`` loads the
matching machinery on first use: the config only parses queries to validate them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.topics.nodes import Node, explain_tree
from monitor.topics.parser import parse

if TYPE_CHECKING:
    from monitor.topics.topicset import TopicSet, TopicSpec


def explain(query: str) -> str:
    """The parsed query as an indented tree, one node per line (raises ``QueryError``)."""
    return "\n".join(explain_tree(parse(query)))


def __getattr__(name: str) -> Any:
    if name not in ("TopicSet", "TopicSpec"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from monitor.topics import topicset

    value = getattr(topicset, name)
    globals()[name] = value  # found directly next time
    return value


__all__ = ["Node", "TopicSet", "TopicSpec", "explain", "parse"]
