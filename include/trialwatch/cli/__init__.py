"""trialwatch: watch ClinicalTrials.gov records and report what changed.

Run `trialwatch COMMAND --help` for a command's options and an example. Settings come from the
environment (docs/configuration.md); a command's flags override them.
Exit status: 0 success, 1 failure, 2 usage error (what was typed cannot be used).
"""

from __future__ import annotations

import argparse
import logging
import sys

# Each command module imports only argparse at load time; the code it drives is imported when it
# runs, so `trialwatch diff` does not pay for Airflow or the store.
from trialwatch.cli import backfill, db, demo, diff, digest, findings, mailsink, replay, sync, watchlists
from trialwatch.cli._common import CommandError, common_options

COMMAND_MODULES = (sync, backfill, digest, watchlists, diff, findings, db, replay, mailsink, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trialwatch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_options()],
        epilog="example:\n  trialwatch watchlists\n  TRIALWATCH_HOME=.demo trialwatch digest preview nk_cell_leukemia",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else 2
    verbose = getattr(args, "verbose", 0)
    level = {0: getattr(args, "log_level", logging.WARNING), 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        # Each retry is a warning; a failure after the retries is reported once, with the attempts.
        logging.getLogger("trialwatch.registry.client").setLevel(logging.ERROR)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        print(f"trialwatch: error: {describe_error(exc)}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, CommandError) else 1


def describe_error(exc: Exception) -> str:
    """One line: the message of an error we expect, the type as well for one we did not."""
    from trialwatch.settings import SettingError

    message = " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if isinstance(exc, CommandError | SettingError | OSError | LookupError | ValueError):
        return message or type(exc).__name__
    return f"{type(exc).__name__}: {message} (run with --debug for the traceback)"
