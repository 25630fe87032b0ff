"""The ``trialwatch`` command. Each subcommand lives beside the code it drives; this file only wires them."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# subcommand -> (module, function, one-line help). Modules are imported only when their command runs,
# so `trialwatch diff` does not pay for Airflow or the store.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "diff": ("trialwatch.diff_cli", "add_arguments", "print the change events between two study JSON files"),
    "replay": ("trialwatch.replay.server", "add_arguments", "serve the local replay registry over HTTP"),
    "sync": ("trialwatch.pipeline", "add_sync_arguments", "fetch watched trials now and record changes"),
    "digest": ("trialwatch.digest.cli", "add_arguments", "preview or send watchlist digests"),
    "db": ("trialwatch.store.cli", "add_arguments", "manage the snapshot store (upgrade)"),
    "watchlists": ("trialwatch.watchlists", "add_arguments", "validate and list the watchlists"),
    "mailsink": (
        "trialwatch.mailsink",
        "add_arguments",
        "run a local SMTP server that saves messages as files",
    ),
    "demo": (
        "trialwatch.demo",
        "add_arguments",
        "run the offline demo: replay day 1 and day 2, capture the digest",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trialwatch", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, function_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name, _function=function_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Two passes: the first finds the subcommand, the second lets that module add its own arguments.
    known, _ = parser.parse_known_args(argv)
    module = importlib.import_module(known._module)
    sub = parser._subparsers._group_actions[0].choices[known.command]  # type: ignore[union-attr]
    run = getattr(module, known._function)(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
