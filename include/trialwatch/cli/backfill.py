"""``trialwatch backfill``: fetch older versions of newly watched trials, within a request budget."""

from __future__ import annotations

import argparse
from typing import Any

from trialwatch.cli._common import CommandError, add_command, non_negative_float, non_negative_int

EXAMPLE = """
trialwatch backfill                                    # up to TRIALWATCH_BACKFILL_REQUESTS requests
trialwatch backfill --budget 50 --api http://127.0.0.1:8765/api/v2 --min-interval 0
"""


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "backfill",
        help="fetch the history of newly watched trials (newest first, within a request budget)",
        description="Fetch the older versions of newly watched trials from the registry's version\n"
        "history, most recently changed trials first, spending at most --budget requests. They fill\n"
        "the Trial Watch timeline and never reach a digest. Waits for no sync: exit status 1 when a\n"
        "sync holds the store's sync lease.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "--budget",
        type=non_negative_int,
        help="registry requests to spend at most (default: TRIALWATCH_BACKFILL_REQUESTS or 500)",
    )
    parser.add_argument("--api", help="API v2 base URL (default: TRIALWATCH_API_URL or clinicaltrials.gov)")
    parser.add_argument("--store", help="store URL (default: TRIALWATCH_STORE_URL or a SQLite file)")
    parser.add_argument(
        "--min-interval",
        type=non_negative_float,
        help="seconds between requests (default: TRIALWATCH_MIN_INTERVAL or 1)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trialwatch.backfill import BackfillBusy, run_backfill
    from trialwatch.cli._common import load_settings
    from trialwatch.pipeline import store_unreachable
    from trialwatch.registry.client import CtgovClient
    from trialwatch.store import Store
    from trialwatch.store.errors import StoreError

    settings = load_settings(
        api_url=args.api,
        store_url=args.store,
        min_interval=args.min_interval,
        backfill_requests=args.budget,
    )
    client = CtgovClient(settings.api_url, min_interval=settings.min_interval)
    store = Store(settings.store_url)
    try:
        store.upgrade()
        summary = run_backfill(store, client, budget=settings.backfill_requests)
    except BackfillBusy as exc:
        raise CommandError(str(exc)) from exc
    except StoreError as exc:
        raise CommandError(store_unreachable(exc)) from exc
    finally:
        client.close()
        store.dispose()
    print(
        f"backfill: {summary.requests}/{summary.budget} requests, {summary.versions} older versions, "
        f"{summary.events} events, {len(summary.trials_done)} trials finished, "
        f"{summary.queued_after} still queued"
    )
    for failure in summary.failures:
        print(f"  history unavailable: {failure['nct_id']}: {failure['error']}")
    return 0
