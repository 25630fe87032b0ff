"""``trialwatch digest preview WATCHLIST`` and ``trialwatch digest send [WATCHLIST]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trialwatch.cli._common import (
    CommandError,
    UsageError,
    add_command,
    existing_store,
    known_watchlist,
    load_settings,
)

MAIL_SETTINGS = (
    "mail settings: TRIALWATCH_SMTP_HOST (+ _PORT, _LOGIN, _PASSWORD, _STARTTLS, _SSL, _VERIFY, _TIMEOUT)\n"
    "or AIRFLOW_CONN_SMTP_DEFAULT in Airflow's JSON form; sender: TRIALWATCH_MAIL_FROM.\n"
    "Every setting: docs/configuration.md"
)


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "digest",
        help="preview or send watchlist digests",
        example="trialwatch digest preview nk_cell_leukemia --out /tmp/preview\ntrialwatch digest send",
    )
    actions = parser.add_subparsers(dest="digest_action", required=True, metavar="ACTION")

    preview = add_command(
        actions,
        "preview",
        help="render the next digest to files without sending",
        description="Write a watchlist's next digest (.eml, .html, .txt, .csv) and its Atom feed to a\n"
        "directory. Sends nothing and marks nothing as sent.",
        example="TRIALWATCH_HOME=.demo trialwatch digest preview nk_cell_leukemia --out /tmp/preview",
    )
    preview.add_argument("watchlist", help="watchlist name (its file name without .yaml)")
    preview.add_argument(
        "--out",
        type=Path,
        default=Path("digest-preview"),
        help="directory to write to (default: %(default)s)",
    )
    preview.add_argument("--store", help="store URL (default: TRIALWATCH_STORE_URL or a SQLite file)")
    preview.set_defaults(run=run_preview)

    send = add_command(
        actions,
        "send",
        help="queue due digests and send everything queued",
        description="Queue the digests that are due and send every queued one.\n" + MAIL_SETTINGS,
        example="TRIALWATCH_SMTP_HOST=mail.example.org TRIALWATCH_SMTP_LOGIN=tw "
        "TRIALWATCH_SMTP_PASSWORD=... trialwatch digest send",
    )
    send.add_argument("watchlist", nargs="?", help="only this watchlist (default: all)")
    send.add_argument(
        "--max-attempts", type=int, default=10, help="give up on a digest after this many failed sends"
    )
    send.add_argument("--store", help="store URL (default: TRIALWATCH_STORE_URL or a SQLite file)")
    send.set_defaults(run=run_send)


def run_preview(args: argparse.Namespace) -> int:
    from trialwatch.digest.service import preview
    from trialwatch.watchlists import load_watchlists

    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: is a file; give a directory (it is created if missing)")
    settings = load_settings(store_url=args.store)
    loaded = load_watchlists(settings.watchlist_dir)
    known_watchlist(loaded, args.watchlist, settings.watchlist_dir)
    store = existing_store(settings.store_url)
    try:
        paths = preview(
            store,
            loaded.watchlists,
            watchlist=args.watchlist,
            sender=settings.mail_from,
            ui_url=settings.ui_url,
            out_dir=args.out,
        )
    finally:
        store.dispose()
    for path in paths:
        print(path)
    return 0


def run_send(args: argparse.Namespace) -> int:
    from trialwatch.digest.service import DigestDeliveryError, prepare_digests, send_queued
    from trialwatch.store.db import Store
    from trialwatch.watchlists import load_watchlists

    settings = load_settings(store_url=args.store)
    loaded = load_watchlists(settings.watchlist_dir)
    if args.watchlist:
        known_watchlist(loaded, args.watchlist, settings.watchlist_dir)
    if settings.smtp is None:
        raise CommandError(
            "digest send: no mail settings: set TRIALWATCH_SMTP_HOST or AIRFLOW_CONN_SMTP_DEFAULT"
        )
    names = [args.watchlist] if args.watchlist else [w.name for w in loaded.watchlists]
    store = Store(settings.store_url)
    try:
        store.upgrade()
        for name in names:
            prepare_digests(
                store, loaded.watchlists, watchlist=name, sender=settings.mail_from, ui_url=settings.ui_url
            )
        try:
            report = send_queued(
                store, settings.smtp, watchlist=args.watchlist, max_attempts=args.max_attempts
            )
        except DigestDeliveryError as exc:
            report = exc.report
            print(f"sent {len(report.sent)}, failed {len(report.failed)}, gave up on {len(report.skipped)}")
            for recipient, error in report.failed:
                print(f"failed: {recipient}: {error}")
            return 1
    finally:
        store.dispose()
    print(f"sent {len(report.sent)}, failed 0, gave up on {len(report.skipped)}")
    return 0
