"""``trialwatch sync``: fetch the watched trials now and record what changed, in this process."""

from __future__ import annotations

import argparse
from typing import Any

from trialwatch.cli._common import (
    CommandError,
    add_command,
    load_settings,
    non_negative_float,
    non_negative_int,
)

EXAMPLE = """
trialwatch sync                                        # what changed since the last sync (weekly: everything)
trialwatch sync --reconcile                            # every watched trial, memberships reconciled
trialwatch sync --api http://127.0.0.1:8765/api/v2 --min-interval 0 --ids NCT04327037
"""


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "sync",
        help="fetch watched trials now and record changes",
        description="Fetch the watched trials (or --ids) from the registry, store new versions and\n"
        "record their change events. Between full reconciliations (weekly, TRIALWATCH_RECONCILE_DAYS)\n"
        "only records posted since the last synced data build are fetched.\n"
        "Exit status 1 when a trial or a watchlist failed.",
        example=EXAMPLE,
    )
    parser.add_argument("--api", help="API v2 base URL (default: TRIALWATCH_API_URL or clinicaltrials.gov)")
    parser.add_argument("--store", help="store URL (default: TRIALWATCH_STORE_URL or a SQLite file)")
    parser.add_argument(
        "--ids", nargs="*", default=(), help="sync only these NCT ids (or URLs containing them)"
    )
    parser.add_argument(
        "--reconcile",
        action="store_true",
        help="a full reconciliation: fetch every watched trial and reconcile watchlist memberships",
    )
    parser.add_argument(
        "--no-history", action="store_true", help="do not read the registry's version history"
    )
    parser.add_argument(
        "--min-interval",
        type=non_negative_float,
        help="seconds between requests (default: TRIALWATCH_MIN_INTERVAL or 1)",
    )
    parser.add_argument(
        "--retries",
        type=non_negative_int,
        default=5,
        help="retries of a request that failed on the network or with 429/5xx (default %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from trialwatch.cli._common import UsageError
    from trialwatch.pipeline import (
        SyncAborted,
        SyncBusy,
        SyncUsageError,
        parse_nct_ids,
        run_sync,
        store_unreachable,
    )
    from trialwatch.registry.client import CtgovClient
    from trialwatch.registry.errors import RegistryError
    from trialwatch.store import Store
    from trialwatch.store.errors import StoreError
    from trialwatch.watchlists import load_watchlists

    try:
        only_ids = parse_nct_ids(args.ids)
    except SyncUsageError as exc:
        raise UsageError(str(exc)) from None
    settings = load_settings(
        api_url=args.api,
        store_url=args.store,
        min_interval=args.min_interval,
        use_history=False if args.no_history else None,
    )
    loaded = load_watchlists(settings.watchlist_dir)
    for error in loaded.errors:
        logging.getLogger("trialwatch.sync").error("%s", error)
    client = CtgovClient(settings.api_url, min_interval=settings.min_interval, max_retries=args.retries)
    store = Store(settings.store_url)
    try:
        store.upgrade()
        summary = run_sync(
            store,
            client,
            loaded.watchlists,
            only_ids=only_ids,
            use_history=settings.use_history,
            watchlist_errors=loaded.errors,
            reconcile=args.reconcile,
            reconcile_days=settings.reconcile_days,
            overlap_days=settings.sync_overlap_days,
        )
    except RegistryError as exc:
        raise CommandError(f"sync stopped, registry {settings.api_url}: {exc}") from exc
    except (SyncBusy, SyncAborted) as exc:
        raise CommandError(str(exc)) from exc
    except StoreError as exc:
        raise CommandError(store_unreachable(exc)) from exc
    finally:
        client.close()
        store.dispose()
    print(
        f"sync run {summary.run_id} ({summary.scope}) {summary.status}: "
        f"{summary.fetched}/{summary.requested} fetched, "
        f"{summary.versions} new versions, {summary.events} events"
    )
    for failure in summary.failures:
        print(f"  failed: {failure['nct_id'] or '-'}: {failure['error']}")
    return 0 if summary.status == "ok" and not loaded.errors else 1
