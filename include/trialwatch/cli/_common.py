"""What every command module shares: the error types main() turns into exit codes, and the help layout."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trialwatch.settings import Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """The command could not do its work (exit 1); the message names what and where."""

    exit_code = EXIT_FAILURE


class UsageError(CommandError):
    """The command was called with something it cannot use, e.g. an unknown watchlist (exit 2)."""

    exit_code = EXIT_USAGE


def add_command(
    subparsers: Any, name: str, *, help: str, example: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its description, its options and an example."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description or help,
        epilog="example:\n" + "\n".join(f"  {line}" for line in example.strip().splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_options()],
    )


def common_options() -> argparse.ArgumentParser:
    """-v and --debug, accepted before or after the subcommand.

    SUPPRESS keeps a subcommand from resetting what was given before it (`trialwatch -v sync`).
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="log progress (-vv: debug)"
    )
    parent.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
    )
    return parent


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def load_settings(**overrides: Any) -> Settings:
    """The environment's settings with the flags given on the command line on top."""
    from trialwatch.settings import Settings

    return Settings.from_env().with_overrides(**overrides)


def known_watchlist(loaded: Any, name: str, directory: Any) -> Any:
    """The watchlist called ``name``, or a usage error that lists the ones there are."""
    for watchlist in loaded.watchlists:
        if watchlist.name == name:
            return watchlist
    known = ", ".join(w.name for w in loaded.watchlists) or "none"
    raise UsageError(f"no watchlist {name!r} in {directory}; known: {known}")


def existing_store(url: str) -> Any:
    """The store at ``url`` for a command that only reads: an error, not a new empty file, when missing."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from trialwatch.store.db import Store

    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        from pathlib import Path

        if not Path(database).exists():
            raise CommandError(
                f"no store at {database}: run `trialwatch sync` first, or point TRIALWATCH_HOME or "
                "--store at an existing one (after `make demo`: TRIALWATCH_HOME=.demo)"
            )
    store = Store(url, readonly=True)
    if not inspect(store.engine).has_table("change_events"):
        store.dispose()
        raise CommandError(f"{store!r} has no trialwatch tables: run `trialwatch db upgrade` or a sync first")
    return store
