"""``trialwatch db upgrade``: bring the store's schema up to date."""

from __future__ import annotations

import argparse
from typing import Any

from trialwatch.cli._common import add_command, load_settings


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "db",
        help="manage the snapshot store (upgrade)",
        example="trialwatch db upgrade --store postgresql+psycopg2://tw@db.internal/trialwatch",
    )
    parser.add_argument("action", choices=["upgrade"], help="upgrade: apply every pending migration")
    parser.add_argument("--store", help="store URL (default: TRIALWATCH_STORE_URL or a SQLite file)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trialwatch.store.db import Store

    store = Store(load_settings(store_url=args.store).store_url)
    try:
        store.upgrade()
        print(f"{store!r} is at the newest schema")
    finally:
        store.dispose()
    return 0
