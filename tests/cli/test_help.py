"""Every `trialwatch <cmd> [<sub>] --help` lists that command's arguments and options and an example.

The commands are found by walking the parser, so a new command or option is checked without
touching this test.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
from trialwatch.cli import build_parser, main


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


ALL = list(commands(build_parser()))


def test_every_command_group_is_there() -> None:
    top = {path[0] for path, _ in ALL if len(path) == 1}
    assert top == {
        "sync",
        "backfill",
        "digest",
        "watchlists",
        "diff",
        "findings",
        "db",
        "replay",
        "mailsink",
        "demo",
    }
    assert {path for path, _ in ALL if len(path) == 2} == {("digest", "preview"), ("digest", "send")}


@pytest.mark.parametrize("path,parser", ALL, ids=[" ".join(path) or "trialwatch" for path, _ in ALL])
def test_help_lists_every_argument_and_option(
    path: tuple[str, ...], parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('trialwatch', *path))}")
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            for option in action.option_strings:
                assert option in out, f"{option} missing from `{' '.join(path)} --help`"
            assert action.help, f"{action.option_strings} has no help text"
        elif isinstance(action, argparse._SubParsersAction):
            for name in action.choices:
                assert name in out
        else:
            shown = action.metavar or (
                "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest
            )
            assert shown in out, f"{shown} missing from `{' '.join(path)} --help`"
            assert action.help, f"{action.dest} has no help text"
    assert "example:" in out
