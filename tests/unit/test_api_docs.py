"""docs/api.md stays true: every documented shape has exactly the OpenAPI schema's fields and
types, and every endpoint of the application is documented (and no other)."""

from __future__ import annotations

import re
from typing import Any

from conftest import ROOT

from monitor.api.app import create_app
from monitor.api.health import Readiness
from monitor.config import Config
from monitor.store.memory import MemoryStore

DOC = ROOT / "docs" / "api.md"
NOT_IN_SCHEMA = {"GET /healthz", "GET /readyz"}  # for probes, not programs


def openapi() -> dict[str, Any]:
    # The document is built from the routes; no query runs.
    schema: dict[str, Any] = create_app(Config(), Readiness(MemoryStore())).openapi()
    return schema


def documented_shapes(text: str) -> dict[str, dict[str, str]]:
    """``### `Name` `` sections: field -> type from each one's table."""
    shapes: dict[str, dict[str, str]] = {}
    for name, body in re.findall(r"^### `(\w+)`\n(.*?)(?=^#|\Z)", text, re.M | re.S):
        rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", body, re.M)
        shapes[name] = {field: kind.strip() for field, kind in rows}
    return shapes


def type_of(prop: dict[str, Any]) -> str:
    """A property's JSON type as the docs write it: ``string or null``, ``array of StoryArticle``."""
    if "anyOf" in prop:
        return " or ".join(type_of(p) for p in prop["anyOf"])
    if "$ref" in prop:
        return str(prop["$ref"].rsplit("/", 1)[-1])
    if prop.get("type") == "array":
        return f"array of {type_of(prop['items'])}"
    return str(prop["type"])


def test_every_documented_shape_matches_the_schema() -> None:
    schemas = openapi()["components"]["schemas"]
    shapes = documented_shapes(DOC.read_text(encoding="utf-8"))
    rows = {name for name in schemas if not name.startswith("Page_")}
    assert set(shapes) == rows, "a shape is documented but not served, or served but not documented"
    for name, fields in shapes.items():
        actual = {field: type_of(prop) for field, prop in schemas[name]["properties"].items()}
        assert fields == actual, name
    for name in schemas:  # every page is {"items": [...], "next_cursor": ...}
        if name.startswith("Page_"):
            assert set(schemas[name]["properties"]) == {"items", "next_cursor"}


def test_every_endpoint_is_documented() -> None:
    served = {f"{method.upper()} {path}" for path, ops in openapi()["paths"].items() for method in ops}
    documented = set(re.findall(r"^\| `((?:GET|POST) [^`]+)` \|", DOC.read_text(encoding="utf-8"), re.M))
    assert documented == served | NOT_IN_SCHEMA
