"""Highlights: styled in a terminal (or plain where colour is unwanted), offsets for programs.

The stored snippet is HTML with <mark> around each hit (alerts embed it); a terminal
gets the hits in bold colour instead, nothing at all with NO_COLOR or when the output is
no terminal, and JSON gets the plain text with each hit's [start, end) beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.topics.snippet import snippet_offsets, unmarked

DOCUMENT = "ByteDance rilis Doubao\nPerusahaan ByteDance & mitra merilis model Doubao baru. Cuaca cerah."
QUERY = "ByteDance AND Doubao"
ESC = "\x1b["


def test_unmarked_gives_plain_text_and_the_offsets_of_each_hit() -> None:
    text, spans = unmarked("… <mark>Bytedance</mark> &amp; <mark>KI</mark>-Modell &lt;neu&gt;")
    assert text == "… Bytedance & KI-Modell <neu>"
    assert [text[start:end] for start, end in spans] == ["Bytedance", "KI"]
    assert snippet_offsets("<mark>a&amp;b</mark> c") == {"snippet_text": "a&b c", "highlights": [[0, 3]]}
    assert unmarked("no hit &amp; no tag") == ("no hit & no tag", [])


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "doc.txt"
    path.write_text(DOCUMENT, encoding="utf-8")
    return path


def snippet_line(output: str) -> str:
    return next(line for line in output.splitlines() if "Perusahaan" in line)


def test_a_terminal_gets_the_hits_styled_not_tagged(document: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = CliRunner().invoke(cli, ["match", "--query", QUERY, str(document)], color=True)
    assert result.exit_code == 0, result.output
    line = snippet_line(result.output)
    assert "<mark>" not in line and "&amp;" not in line
    assert f"{ESC}1m" in line or ";1m" in line  # bold
    assert line.count(ESC) >= 4  # ByteDance and Doubao, each switched on and off


def test_no_color_and_a_pipe_get_plain_text(document: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    terminal = CliRunner().invoke(cli, ["match", "--query", QUERY, str(document)], color=True)
    monkeypatch.delenv("NO_COLOR")
    piped = CliRunner().invoke(cli, ["match", "--query", QUERY, str(document)])  # not a terminal
    for result in (terminal, piped):
        assert result.exit_code == 0, result.output
        line = snippet_line(result.output).strip()
        assert line == "Perusahaan ByteDance & mitra merilis model Doubao baru. Cuaca cerah."


def test_json_keeps_the_marked_snippet_and_adds_explicit_offsets(document: Path) -> None:
    result = CliRunner().invoke(cli, ["match", "--json", "--query", QUERY, str(document)])
    assert result.exit_code == 0, result.output
    [found] = json.loads(result.output)["matches"]
    assert "<mark>ByteDance</mark>" in found["snippet"]
    text = found["snippet_text"]
    assert [text[start:end] for start, end in found["highlights"]] == ["ByteDance", "Doubao"]
    assert ESC not in result.output
