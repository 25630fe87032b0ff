"""`trialwatch db upgrade`: bring the store's schema up to date."""

from __future__ import annotations

import argparse

from trialwatch.store.db import Store


def add_arguments(parser: argparse.ArgumentParser):  # type: ignore[no-untyped-def]
    parser.add_argument("action", choices=["upgrade"], help="upgrade: apply every pending migration")
    parser.add_argument("--store", help="store URL (default: TRIALWATCH_STORE_URL or a SQLite file)")
    return _run


def _run(args: argparse.Namespace) -> int:
    store = Store(args.store)
    store.upgrade()
    print(f"{store!r} is at the newest schema")
    return 0
