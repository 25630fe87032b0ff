"""``trialwatch diff OLD.json NEW.json``: the change events between two saved versions of one study."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trialwatch import safejson
from trialwatch.catalog import Thresholds
from trialwatch.diff import diff_studies
from trialwatch.events import ChangeEvent
from trialwatch.records import MalformedRecord, nct_id_of

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """A file or option the command cannot use; the message names it."""


def add_arguments(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    parser.add_argument(
        "old", metavar="OLD.json", help="the earlier version: a study object or a one-study page"
    )
    parser.add_argument("new", metavar="NEW.json", help="the later version of the same study")
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
    return run


def run(args: argparse.Namespace) -> int:
    try:
        thresholds = parse_thresholds(args.thresholds)
        old = load_study(Path(args.old))
        new = load_study(Path(args.new))
        old_id, new_id = nct_id_of(old), nct_id_of(new)
        if old_id != new_id:
            raise InputError(
                f"{args.old} is {old_id} but {args.new} is {new_id}: not two versions of one study"
            )
        events = diff_studies(old, new, thresholds=thresholds)
        output = render(events, args.format, new)
    except InputError as exc:
        print(f"trialwatch diff: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return 0


def parse_thresholds(pairs: list[str]) -> Thresholds | None:
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--thresholds {pair!r}: expected KEY=VALUE")
        mapping[key.strip()] = value.strip()
    try:
        return Thresholds.from_mapping(mapping)
    except ValueError as exc:
        raise InputError(f"--thresholds: {exc}") from None


def load_study(path: Path) -> dict[str, Any]:
    """A study object from ``path``: as /studies/{nctId} returns it, or a /studies page holding one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    try:
        data = safejson.loads(text)
    except safejson.UnsafeJSON as exc:
        raise InputError(f"{path}: {exc}") from None
    if isinstance(data, dict) and "studies" in data and "protocolSection" not in data:
        studies = data["studies"]
        if not isinstance(studies, list) or len(studies) != 1:
            count = len(studies) if isinstance(studies, list) else "no list of"
            raise InputError(f"{path}: a /studies page must hold exactly one study to diff, it holds {count}")
        data = studies[0]
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a study object, found a JSON {type(data).__name__}")
    try:
        nct_id_of(data)
    except MalformedRecord as exc:
        raise InputError(f"{path}: {exc}") from None
    return data


def render(events: list[ChangeEvent], fmt: str, new: dict | None = None) -> str:
    if fmt == "json":
        return safejson.dumps([event.to_dict() for event in events], indent=2, ensure_ascii=False)
    try:
        from trialwatch.digest.render import render_event_list
    except ImportError as exc:
        raise InputError(
            f"--format {fmt} needs the digest templates (trialwatch.digest.render): {exc}"
        ) from None
    from trialwatch.digest.render import TrialInfo
    from trialwatch.records import brief_title, overall_status

    trials = {nct_id_of(new): TrialInfo(brief_title(new), overall_status(new))} if new else None
    return render_event_list(events, fmt, trials)
