"""0020: study_versions keeps one index, the unique one whose leading columns the two dropped had."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from trialwatch.store import Store


def _indexes(store: Store) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in inspect(store.engine).get_indexes("study_versions")}


def _round_trip(store: Store) -> None:
    assert _indexes(store) == {"uq_study_versions_version": ["nct_id", "content_hash", "version_key"]}
    store.downgrade("0019")
    store.dispose()
    assert _indexes(store) == {
        "ix_study_versions_nct_id": ["nct_id"],
        "ix_study_versions_nct_hash": ["nct_id", "content_hash"],
        "uq_study_versions_version": ["nct_id", "content_hash", "version_key"],
    }
    store.upgrade()
    store.dispose()
    assert list(_indexes(store)) == ["uq_study_versions_version"]


def test_version_indexes_upgrade_and_downgrade_on_sqlite(store: Store) -> None:
    _round_trip(store)


@pytest.mark.postgres
def test_version_indexes_upgrade_and_downgrade_on_postgres(pg_store: Store) -> None:
    _round_trip(pg_store)


def test_a_trials_versions_are_found_through_the_unique_index_on_sqlite(store: Store) -> None:
    with store.engine.connect() as conn:
        plan = " ".join(
            row[-1]
            for row in conn.execute(
                text("EXPLAIN QUERY PLAN SELECT id FROM study_versions WHERE nct_id = 'NCT02185781'")
            )
        )
    assert "USING COVERING INDEX uq_study_versions_version (nct_id=?)" in plan, plan
