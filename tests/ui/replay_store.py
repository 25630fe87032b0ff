"""A store filled the way production fills it: day 1 and day 2 of the replay registry through the real
sync, with the history backfill run after day 1 as the hourly backfill DAG would."""

from __future__ import annotations

from trialwatch.backfill import run_backfill
from trialwatch.pipeline import run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import serve
from trialwatch.store import Store
from trialwatch.watchlists import load_watchlists

# More than the replay's histories need (a few requests per trial): the whole past is stored.
BACKFILL_BUDGET = 1_000


def fill_from_replay(store_url: str) -> None:
    """Migrate the store at ``store_url``, then sync the project's watchlists on replay days 1 and 2."""
    store = Store(store_url)
    store.upgrade()
    watchlists = load_watchlists()
    if watchlists.errors:
        raise ValueError(f"the project's watchlists do not load: {watchlists.errors}")
    try:
        with serve(day=1) as registry:
            client = CtgovClient(registry.base_url, min_interval=0)
            for day in (1, 2):
                registry.set_day(day)
                summary = run_sync(store, client, list(watchlists))
                if summary.status != "ok":
                    raise RuntimeError(f"replay day {day} sync ended {summary.status}: {summary.failures}")
                if day == 1:
                    run_backfill(store, client, budget=BACKFILL_BUDGET)
    finally:
        store.dispose()
