"""Render query results as a terminal table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

import click

FORMATS = ("table", "json", "csv")


def color() -> bool | None:
    """``click.echo``'s ``color``: never with NO_COLOR set (no-color.org), else click's own
    choice, which drops the styling when the output is no terminal."""
    return False if os.environ.get("NO_COLOR") else None


def highlighted(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with the ``spans`` in bold yellow (echo it with ``color=color()``)."""
    parts, cursor = [], 0
    for start, end in spans:
        parts += [text[cursor:start], click.style(text[start:end], fg="yellow", bold=True)]
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str]) -> str:
    """``rows`` in ``fmt``; the table and CSV show ``columns``, JSON shows every key."""
    if fmt == "json":
        return json.dumps(list(rows), ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return out.getvalue().rstrip("\n")
    return table(rows, columns)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) if not isinstance(v, dict) else str(v.get("title", v)) for v in value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return " ".join(str(value).split())


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned table that fits the terminal: the widest column is cut first."""
    if not rows:
        return "(nothing found)"
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    room = shutil.get_terminal_size((160, 24)).columns - 2 * (len(columns) - 1)
    while sum(widths) > room and max(widths) > 12:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    lines = [columns, ["-" * w for w in widths], *cells]
    return "\n".join("  ".join(_fit(text, widths[i]) for i, text in enumerate(line)).rstrip() for line in lines)


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
