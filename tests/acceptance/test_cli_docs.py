"""docs/cli.md's command reference is generated from the click commands and stays true to them."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import click
from conftest import ROOT

from monitor.cli import cli

DOC = ROOT / "docs" / "cli.md"
TOOL = ROOT / "tools" / "cli_reference.py"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load_tool()


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_docs_cli_md_is_up_to_date_with_the_commands() -> None:
    stale = reference.stale_sections(DOC.read_text(encoding="utf-8"), cli)
    assert not stale, (
        f"docs/cli.md is out of date for {', '.join(f'`{path}`' for path in stale)}: "
        f"run `{reference.UPDATE_COMMAND}` and commit docs/cli.md"
    )


def test_every_command_and_option_is_documented_with_its_help() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = reference.HEADING.findall(text)
    walked = [ctx.command_path for ctx, _ in reference.commands(cli)]
    assert documented == walked
    # The ones the hand-written reference had missed.
    for path in ["monitor topics test", "monitor feeds add", "monitor feeds discover", "monitor feeds import"]:
        assert path in documented
    assert "monitor feeds export" in documented
    for ctx, command in reference.commands(cli):
        assert command.help and len(command.help.strip()) > 15, f"`{ctx.command_path} --help` says nothing"
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and not set(param.opts) <= set(ctx.help_option_names):
                assert param.help, f"`{ctx.command_path} {param.opts[-1]}` has no help text"


def test_the_one_command_fixes_a_stale_section_and_keeps_the_hand_written_text(tmp_path: Path) -> None:
    current = DOC.read_text(encoding="utf-8")
    sections = reference.sections(cli)
    # As if `feeds export` had been added without the docs, and `poll`'s help had changed.
    poll = sections["monitor poll"]
    stale = current.replace(sections["monitor feeds export"], "").replace(poll, poll.replace("every feed", "a feed"))
    copy = tmp_path / "cli.md"
    copy.write_text(stale, encoding="utf-8")

    check = run_tool("--check", "--file", str(copy))
    assert check.returncode == 1
    assert "monitor feeds export" in check.stderr and "monitor poll" in check.stderr
    assert "monitor feeds add" not in check.stderr  # only what changed is named
    assert reference.UPDATE_COMMAND in check.stderr

    fixed = run_tool("--file", str(copy))
    assert fixed.returncode == 0, fixed.stderr
    assert copy.read_text(encoding="utf-8") == current  # the JSON shapes and examples around the block survive
    assert run_tool("--check", "--file", str(copy)).returncode == 0


def test_a_document_without_the_markers_gets_one_line_saying_what_to_add(tmp_path: Path) -> None:
    copy = tmp_path / "cli.md"
    copy.write_text("# Commands\n", encoding="utf-8")
    result = run_tool("--check", "--file", str(copy))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no generated block" in result.stderr and reference.BEGIN in result.stderr


@click.group()  # its sections are named `monitor ...`, the program name the generator gives the root
@click.option("--colour", type=click.Choice(["red", "blue"]), default="red", show_default=True, help="Paint it.")
def toy() -> None:
    """A toy tool.

    \b
    Start here:
      toy hello    say hello
    """


@toy.group()
def greet() -> None:
    """Greetings of every kind."""


@greet.command("hello")
@click.argument("name")
@click.option("--times", type=int, metavar="N", default=1, show_default=True, help="Say it N times.")
def hello(name: str, times: int) -> None:
    """Say hello to NAME (a `<name>` is fine) or to <nobody>.

    Long help is unwrapped
    into one line.
    """


@toy.command(hidden=True)
def secret() -> None:
    """Not for the docs."""


def test_each_section_has_usage_help_and_options_in_stable_markdown() -> None:
    sections = reference.sections(toy)
    assert list(sections) == ["monitor", "monitor greet", "monitor greet hello"]  # hidden commands left out
    assert sections["monitor greet hello"] == textwrap.dedent(
        """\
        ### `monitor greet hello`

        ```text
        monitor greet hello [OPTIONS] NAME
        ```

        Say hello to NAME (a `<name>` is fine) or to &lt;nobody>.

        Long help is unwrapped into one line.

        Options:

        - `--times N`: Say it N times.  [default: 1]
        """
    )
    top = sections["monitor"]
    assert "```text\nStart here:\n  toy hello    say hello\n```" in top  # a \\b block stays as written
    assert "- `--colour [red|blue]`: Paint it.  [default: red]" in top
    assert "--help" not in "".join(sections.values())


def test_stale_sections_names_changed_added_and_removed_commands() -> None:
    document = f"intro\n\n{reference.block(toy)}\n\nshapes\n"
    assert reference.stale_sections(document, toy) == []

    hello.help = "Say goodbye."
    try:
        assert reference.stale_sections(document, toy) == ["monitor greet hello"]
    finally:
        hello.help = reference.inspect.getdoc(hello.callback)

    removed = document.replace(reference.sections(toy)["monitor greet"], "")
    assert reference.stale_sections(removed, toy) == ["monitor greet"]

    renamed = document.replace("### `monitor greet hello`", "### `monitor greet hi`")
    assert reference.stale_sections(renamed, toy) == ["monitor greet hello", "monitor greet hi"]


def test_generating_the_reference_imports_no_extraction_and_starts_no_process() -> None:
    """The generator imports monitor.cli only: no worker pool, no trafilatura, nothing started."""
    probe = textwrap.dedent(
        f"""
        import importlib.util, multiprocessing, sys
        spec = importlib.util.spec_from_file_location("cli_reference", {str(TOOL)!r})
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
        from monitor.cli import cli
        tool.block(cli)
        heavy = {{"trafilatura", "monitor.extract", "monitor.workers", "concurrent.futures.process"}}
        print(sorted(heavy & set(sys.modules)), len(multiprocessing.active_children()))
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "0"]


def test_the_root_help_lists_what_the_reference_lists() -> None:
    listed = cli.get_help(click.Context(cli, info_name="monitor")).partition("Commands:")[2]
    top_level = {path.split()[1] for path in reference.sections(cli) if len(path.split()) == 2}
    assert top_level == set(re.findall(r"^\s+([\w-]+)\s", listed, re.M))
