"""Topic queries: parse -> tree -> compiled matchers over one presearch automaton.

The query language is documented in docs/query-language.md.
"""

from __future__ import annotations

from monitor.topics.nodes import Node, explain_tree
from monitor.topics.parser import parse
from monitor.topics.topicset import TopicSet, TopicSpec


def explain(query: str) -> str:
    """The parsed query as an indented tree, one node per line (raises ``QueryError``)."""
    return "\n".join(explain_tree(parse(query)))


__all__ = ["Node", "TopicSet", "TopicSpec", "explain", "parse"]
