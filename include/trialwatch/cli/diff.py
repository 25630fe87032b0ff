"""``trialwatch diff OLD.json NEW.json``: the change events between two saved versions of one study."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialwatch.cli._common import EXIT_FAILURE, UsageError, add_command

if TYPE_CHECKING:
    from trialwatch.catalog import Thresholds
    from trialwatch.events import ChangeEvent

STDIN = "-"
EXAMPLE = """
trialwatch diff old.json new.json --format text
curl -s https://clinicaltrials.gov/api/v2/studies/NCT04327037 | trialwatch diff saved.json - --exit-code
"""


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "diff",
        help="print the change events between two study JSON files",
        description="Print the change events between two versions of one study (API v2 JSON).\n"
        "Exit status: 0 (with --exit-code: 0 equal, 1 different), 2 for input it cannot use.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "old", metavar="OLD.json", help="the earlier version: a study object or a one-study page (- = stdin)"
    )
    parser.add_argument("new", metavar="NEW.json", help="the later version of the same study (- = stdin)")
    parser.add_argument(
        "--format",
        choices=("json", "text", "html"),
        default="json",
        help="json: a list of event objects; text/html: rendered like the digest (default json)",
    )
    parser.add_argument(
        "--thresholds",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="severity thresholds, e.g. enrollment_major_pct=20 primary_completion_major_days=60",
    )
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when the records differ, 0 when they do not"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trialwatch.diff import diff_studies
    from trialwatch.records import nct_id_of

    if args.old == STDIN and args.new == STDIN:
        raise UsageError("OLD.json and NEW.json cannot both be - (stdin)")
    thresholds = parse_thresholds(args.thresholds)
    old = load_study(args.old)
    new = load_study(args.new)
    old_id, new_id = nct_id_of(old), nct_id_of(new)
    if old_id != new_id:
        raise UsageError(
            f"{_name(args.old)} is {old_id} but {_name(args.new)} is {new_id}: not two versions of one study"
        )
    events = diff_studies(old, new, thresholds=thresholds)
    output = render(events, args.format, new)
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return EXIT_FAILURE if args.exit_code and events else 0


def _name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def parse_thresholds(pairs: list[str]) -> Thresholds | None:
    from trialwatch.catalog import Thresholds

    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--thresholds {pair!r}: expected KEY=VALUE")
        mapping[key.strip()] = value.strip()
    try:
        return Thresholds.from_mapping(mapping)
    except ValueError as exc:
        raise UsageError(f"--thresholds: {exc}") from None


def load_study(path: str | Path) -> dict[str, Any]:
    """A study object from a file (or stdin for ``-``): as /studies/{nctId} returns it, or a one-study page."""
    from trialwatch.records import MalformedRecord, nct_id_of

    name = _name(str(path))
    try:
        text = sys.stdin.read() if str(path) == STDIN else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{name}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name}: not UTF-8 text") from None
    from trialwatch import safejson

    try:
        data = safejson.loads(text)
    except safejson.UnsafeJSON as exc:
        raise UsageError(f"{name}: {exc}") from None
    if isinstance(data, dict) and "studies" in data and "protocolSection" not in data:
        studies = data["studies"]
        if not isinstance(studies, list) or len(studies) != 1:
            count = len(studies) if isinstance(studies, list) else "no list of"
            raise UsageError(f"{name}: a /studies page must hold exactly one study to diff, it holds {count}")
        data = studies[0]
    if not isinstance(data, dict):
        raise UsageError(f"{name}: expected a study object, found a JSON {type(data).__name__}")
    try:
        nct_id_of(data)
    except MalformedRecord as exc:
        raise UsageError(f"{name}: {exc}") from None
    return data


def render(events: list[ChangeEvent], fmt: str, new: dict[str, Any] | None = None) -> str:
    from trialwatch.records import brief_title, nct_id_of, overall_status

    if fmt == "json":
        from trialwatch import safejson

        return safejson.dumps([event.to_dict() for event in events], indent=2, ensure_ascii=False)
    from trialwatch.digest.render import TrialInfo, render_event_list

    trials = {nct_id_of(new): TrialInfo(brief_title(new), overall_status(new))} if new else None
    return render_event_list(events, fmt, trials)
