"""``trialwatch demo``: the whole monitor offline through the real DAGs (replay day 1, then day 2)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trialwatch.cli._common import add_command
from trialwatch.settings import PACKAGE_DIR

DEFAULT_WORKDIR = PACKAGE_DIR.parent.parent / ".demo"


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "demo",
        help="run the offline demo: replay day 1 and day 2, capture the digest",
        description="Start the replay registry and a mail sink, run the sync and digest DAGs with\n"
        "`airflow dags test` on day 1 and day 2, and print the digest that was sent. Needs the\n"
        "[airflow] and [replay] extras. Afterwards TRIALWATCH_HOME=<workdir> points the other\n"
        "commands at the demo's store.",
        example="trialwatch demo --workdir .demo\nTRIALWATCH_HOME=.demo trialwatch digest preview nk_cell_leukemia",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="where the demo keeps its state (default: .demo)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from trialwatch.demo import describe_mail, run_demo

    started = time.monotonic()
    workdir = args.workdir.resolve()
    saved = run_demo(workdir)
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s.")
    if not saved:
        print("no digest was sent: nothing changed between day 1 and day 2?")
        return 1
    print(f"The digests went to the local mail sink, saved in {workdir / 'mail'}:")
    for path in saved:
        print("\n".join(describe_mail(path)))
    hooks = sorted((workdir / "webhooks").glob("*.json"))
    bodies = [p for p in hooks if not p.name.endswith(".headers.json")]
    print(f"\nWebhook, Slack and Teams messages, saved in {workdir / 'webhooks'}:")
    for path in bodies:
        meta = json.loads(path.with_suffix(".headers.json").read_text())
        signed = {True: "signature verified", False: "SIGNATURE MISMATCH"}.get(
            meta.get("signature_ok"), "unsigned"
        )
        print(f"  {path} ({meta['path']}, {path.stat().st_size} bytes, {signed})")
    print(f"\nThe demo's store is in {workdir}; to look at it: TRIALWATCH_HOME={args.workdir} trialwatch ...")
    return 0
