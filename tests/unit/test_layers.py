"""The package's layers, written down once, and a walk of its imports that keeps them.

Each module belongs to one layer; a module imports from its own layer or the ones below,
never from one above, and no chain of imports leads back to where it started. Every
import counts: at the top of a module, inside a function or under TYPE_CHECKING (a lazy
import is still a dependency). README.md's "Architecture" section describes these layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "monitor"

# Lowest first. A module belongs to the layer of the longest name below that is its own
# name or a package it is in.
LAYERS: dict[str, tuple[str, ...]] = {
    # Functions of their arguments: no network, database, clock, process or config.
    "core": (
        "monitor.errors",
        "monitor.model",
        "monitor.text",
        "monitor.topics",
        "monitor.stories",
        "monitor.polling",
        "monitor.feeds",
        "monitor.extract",
        "monitor.not_article",
        "monitor.article",
        "monitor.opml",
        "monitor.changes",
        "monitor.alerts.render",
        "monitor.alerts.digest",
        "monitor.alerts.notices",
        "monitor.alerts.schedule",
    ),
    # Each wraps one thing outside the process's pure logic: HTTP, the database, SMTP and
    # webhooks, worker processes, timers.
    "adapters": (
        "monitor.fetch",
        "monitor.discovery",  # fetches pages to find their feeds
        "monitor.store",
        "monitor.alerts",
        "monitor.workers",
        "monitor.worker_preload",  # the fork server imports it by name
        "monitor.scheduler",
        "monitor.logs",  # stderr, as lines or JSON events
        "monitor.systemd",  # its notify socket
        "monitor.metrics",  # the process's Prometheus counters and their scrape endpoint
    ),
    # Reads the configuration, builds the adapters, runs the stages in order.
    "composition": (
        "monitor.config",
        "monitor.pipeline",
        "monitor.preview",
        "monitor.digests",
        "monitor.service",
        "monitor.runtime",
    ),
    # What a person types and reads, and what programs ask over HTTP.
    "interface": ("monitor.cli", "monitor.cli_output", "monitor.api", "monitor.__main__"),
}

# Packages whose modules count as one unit when looking for circles between parts of
# the code (a circle between two packages is one even when no module imports itself).
PACKAGES = ("monitor.alerts", "monitor.store", "monitor.stories", "monitor.topics")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, this: str, is_package: bool, modules: frozenset[str]) -> set[str]:
    """Which of ``modules`` the module ``this`` imports, given its ``source``."""
    package = this if is_package else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, this)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1 packages
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # "from monitor import stories" imports the module monitor.stories.
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names)
    # The top package itself is empty: importing it is no dependency on anything.
    return {name for name in found if name in modules and name not in {"monitor", this}}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = frozenset(module_name(path) for path in paths)
    return {
        module_name(path): imported_modules(
            path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py", modules
        )
        for path in paths
    }


def owner(name: str, groups: Iterable[str]) -> str | None:
    """The longest of ``groups`` that is ``name`` or a package holding it."""
    holders = [group for group in groups if name == group or name.startswith(group + ".")]
    return max(holders, key=len, default=None)


def layer_of(name: str) -> int | None:
    group = owner(name, [prefix for prefixes in LAYERS.values() for prefix in prefixes])
    if group is None:
        return None
    return next(rank for rank, prefixes in enumerate(LAYERS.values()) if group in prefixes)


def find_circle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import circle in ``graph`` as the path that closes it (first == last), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" when all below were seen
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (circle := visit(target)):
                return circle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)):
            return circle
    return None


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The graph with each package in PACKAGES as one node."""

    def unit(name: str) -> str:
        return owner(name, PACKAGES) or name

    units: dict[str, set[str]] = {}
    for module, targets in graph.items():
        units.setdefault(unit(module), set()).update(unit(target) for target in targets if unit(target) != unit(module))
    return units


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    names = list(LAYERS)
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            low, high = layer_of(module), layer_of(target)
            if low is not None and high is not None and high > low:
                found.append(f"{module} ({names[low]}) imports {target} ({names[high]})")
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = [module for module in import_graph() if module != "monitor" and layer_of(module) is None]
    assert not unplaced, f"put these modules in a layer in tests/test_layers.py LAYERS (and README.md): {unplaced}"


def test_no_import_circle_between_modules() -> None:
    circle = find_circle(import_graph())
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_no_import_circle_between_packages() -> None:
    circle = find_circle(package_graph(import_graph()))
    assert circle is None, "import circle between packages: " + " -> ".join(circle or [])


def test_no_import_runs_up_a_layer() -> None:
    upward = upward_imports(import_graph())
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


# --- the checks themselves find what they are for ----------------------------------------------


@pytest.mark.parametrize(
    ("graph", "circle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"d"}}, ["d", "d"]),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),  # a diamond is no circle
    ],
)
def test_find_circle(graph: dict[str, set[str]], circle: list[str] | None) -> None:
    assert find_circle(graph) == circle


def test_a_circle_through_two_packages_is_found() -> None:
    graph = {"monitor.store.repository": {"monitor.alerts.render"}, "monitor.alerts.outbox": {"monitor.store.db"}}
    assert find_circle(package_graph(graph)) == ["monitor.alerts", "monitor.store", "monitor.alerts"]


def test_an_import_up_a_layer_is_found() -> None:
    assert upward_imports({"monitor.text": {"monitor.fetch"}, "monitor.fetch": {"monitor.text"}}) == [
        "monitor.text (core) imports monitor.fetch (adapters)"
    ]


def test_imports_are_read_wherever_they_are() -> None:
    modules = frozenset({"monitor.x.a", "monitor.x.b", "monitor.c", "monitor.x.d", "monitor.e"})
    source = (
        "from typing import TYPE_CHECKING\nfrom monitor.x import b\nimport monitor\n"
        "if TYPE_CHECKING:\n    from monitor.c import Thing\n"
        "def later():\n    from . import d\n    from ..e import f\n"
    )
    assert imported_modules(source, "monitor.x.a", False, modules) == {
        "monitor.x.b",
        "monitor.c",
        "monitor.x.d",
        "monitor.e",
    }
