"""``trialwatch findings RECORD.json``: what is wrong with a record as it stands on a date."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from typing import Any

from trialwatch.cli._common import EXIT_FAILURE, UsageError, add_command

EXAMPLE = """
trialwatch findings study.json --format text
trialwatch findings study.json --as-of 2027-01-01 --previous-anticipated 120
curl -s https://clinicaltrials.gov/api/v2/studies/NCT04327037 | trialwatch findings - --exit-code
"""


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "findings",
        help="print what is wrong with a study record as it stands (results overdue, stale status...)",
        description="Check one study record (API v2 JSON) as it stands on a date and print its findings.\n"
        "Exit status: 0 (with --exit-code: 0 none, 1 some findings), 2 for input it cannot use.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "record", metavar="RECORD.json", help="a study object or a one-study page (- = stdin)"
    )
    parser.add_argument(
        "--format", choices=("json", "text"), default="json", help="json: a list of findings (default); text"
    )
    parser.add_argument(
        "--as-of",
        type=_iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="evaluate the record as on this date (default: today, UTC)",
    )
    parser.add_argument(
        "--previous-anticipated",
        type=int,
        default=None,
        metavar="N",
        help="the last anticipated enrollment from an earlier version, for the shortfall check",
    )
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when the record has findings, 0 when it has none"
    )
    parser.set_defaults(run=run)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def run(args: argparse.Namespace) -> int:
    from trialwatch import findings
    from trialwatch.cli.diff import load_study
    from trialwatch.records import MalformedRecord, brief_title, check_study

    record = load_study(args.record)
    as_of = args.as_of or datetime.now(UTC).date()  # the edge supplies the clock; the checks take a date
    try:
        found = findings.evaluate(record, as_of=as_of, previous_anticipated=args.previous_anticipated)
    except MalformedRecord as exc:
        raise UsageError(f"{'<stdin>' if args.record == '-' else args.record}: {exc}") from None
    output = findings.render_findings(
        found,
        args.format,
        title=brief_title(record),
        nct_id=check_study(record),
        as_of=as_of,
    )
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return EXIT_FAILURE if args.exit_code and found else 0
