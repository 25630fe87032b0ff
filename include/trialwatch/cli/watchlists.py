"""``trialwatch watchlists``: validate every watchlist file and show what each one watches."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trialwatch.cli._common import add_command, load_settings


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "watchlists",
        help="validate and list the watchlists",
        description="Validate every watchlist file and list what each watches. A broken file is\n"
        "reported with its name and the problem and does not stop the others (exit 1).",
        example="trialwatch watchlists --dir include/watchlists",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="watchlist directory (default: TRIALWATCH_WATCHLISTS or include/watchlists)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from trialwatch.watchlists import describe, load_watchlists

    directory = args.dir or load_settings().watchlist_dir
    # This command prints the problems itself; logging them as well would show each one twice.
    log = logging.getLogger("trialwatch.watchlists")
    log.disabled = True
    try:
        loaded = load_watchlists(directory)
    finally:
        log.disabled = False
    for watchlist in loaded.watchlists:
        print("\n".join(describe(watchlist)))
        print()
    for error in loaded.errors:
        print("\n".join(f"ERROR {line}" for line in str(error).splitlines()))
    print(f"{len(loaded.watchlists)} valid, {len(loaded.errors)} invalid")
    return 1 if loaded.errors else 0
