"""0017: studies.current_members counts each trial's current memberships, kept by triggers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, inspect, select, update
from trialwatch.store import Store
from trialwatch.store.models import Study, WatchlistTrial
from trialwatch.store.repository import update_memberships

DAY = datetime(2024, 5, 1, tzinfo=UTC)


def _counts(store: Store) -> dict[str, int]:
    with store.session() as session:
        return dict(session.execute(select(Study.nct_id, Study.current_members)).all())


def _study(store: Store, nct_id: str) -> None:
    with store.session() as session:
        session.add(Study(nct_id=nct_id, first_seen_at=DAY))
        session.commit()


def _members(store: Store, watchlist: str, members: dict[str, str]) -> None:
    with store.session() as session:
        update_memberships(session, watchlist, members, now=DAY)
        session.commit()


def _kept(store: Store) -> None:
    _study(store, "NCT00000001")
    # Memberships written before the study they name: inserting the study counts them.
    _members(store, "a", {"NCT00000001": "id", "NCT00000002": "query", "NCT00000003": "query"})
    _members(store, "b", {"NCT00000002": "query"})
    _study(store, "NCT00000002")
    _study(store, "NCT00000004")
    assert _counts(store) == {"NCT00000001": 1, "NCT00000002": 2, "NCT00000004": 0}
    _study(store, "NCT00000003")
    assert _counts(store)["NCT00000003"] == 1
    # A sync that finds the same members rewrites their rows but moves no count.
    _members(store, "a", {"NCT00000001": "id", "NCT00000002": "query", "NCT00000003": "query"})
    assert _counts(store) == {"NCT00000001": 1, "NCT00000002": 2, "NCT00000003": 1, "NCT00000004": 0}
    # NCT00000002 leaves a's query, then comes back; NCT00000003 is deleted from a.
    _members(store, "a", {"NCT00000001": "id", "NCT00000003": "query"})
    assert _counts(store)["NCT00000002"] == 1
    _members(store, "a", {"NCT00000001": "id", "NCT00000002": "query", "NCT00000003": "query"})
    assert _counts(store)["NCT00000002"] == 2
    with store.session() as session:
        session.execute(delete(WatchlistTrial).where(WatchlistTrial.nct_id == "NCT00000003"))
        # A row moved to another trial moves its count.
        session.execute(
            update(WatchlistTrial)
            .where(WatchlistTrial.watchlist == "b", WatchlistTrial.nct_id == "NCT00000002")
            .values(nct_id="NCT00000004")
        )
        session.commit()
    assert _counts(store) == {"NCT00000001": 1, "NCT00000002": 1, "NCT00000003": 0, "NCT00000004": 1}


def _indexes(store: Store) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in inspect(store.engine).get_indexes("studies")}


def _round_trip(store: Store) -> None:
    _members(store, "a", {"NCT00000001": "id", "NCT00000002": "query"})
    _members(store, "b", {"NCT00000002": "query"})
    _study(store, "NCT00000001")
    _study(store, "NCT00000002")
    assert _indexes(store)["ix_studies_last_posted_nct"] == [
        "last_posted",
        "last_changed_at",
        "nct_id",
        "current_members",
    ]
    store.downgrade("0016")
    store.dispose()
    assert _indexes(store)["ix_studies_last_posted_nct"] == ["last_posted", "last_changed_at", "nct_id"]
    assert "current_members" not in {c["name"] for c in inspect(store.engine).get_columns("studies")}
    # Written while the column was gone: the upgrade counts it from the members.
    _members(store, "b", {"NCT00000001": "query", "NCT00000002": "query"})
    store.upgrade()
    assert _counts(store) == {"NCT00000001": 2, "NCT00000002": 2}
    assert _indexes(store)["ix_studies_title_nct"] == ["title", "nct_id", "current_members"]


def test_counts_are_kept_on_sqlite(store: Store) -> None:
    _kept(store)


@pytest.mark.postgres
def test_counts_are_kept_on_postgres(pg_store: Store) -> None:
    _kept(pg_store)


def test_counts_upgrade_and_downgrade_on_sqlite(store: Store) -> None:
    _round_trip(store)


@pytest.mark.postgres
def test_counts_upgrade_and_downgrade_on_postgres(pg_store: Store) -> None:
    _round_trip(pg_store)
