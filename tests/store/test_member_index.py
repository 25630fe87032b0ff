"""0016: the members' index on (nct_id, left_at, watchlist) replaces the one on nct_id, and back."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from trialwatch.store import Store


def _indexes(store: Store) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in inspect(store.engine).get_indexes("watchlist_trials")}


def _round_trip(store: Store) -> None:
    assert _indexes(store)["ix_watchlist_trials_nct_current"] == ["nct_id", "left_at", "watchlist"]
    assert "ix_watchlist_trials_nct" not in _indexes(store)
    store.downgrade("0015")
    store.dispose()  # inspect() caches nothing, but a pooled connection may hold the old schema
    assert _indexes(store) == {"ix_watchlist_trials_nct": ["nct_id"]}
    store.upgrade()
    assert "ix_watchlist_trials_nct_current" in _indexes(store)


def test_member_index_upgrades_and_downgrades_on_sqlite(store: Store) -> None:
    _round_trip(store)


@pytest.mark.postgres
def test_member_index_upgrades_and_downgrades_on_postgres(pg_store: Store) -> None:
    _round_trip(pg_store)
