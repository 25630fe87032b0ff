"""The overview's open-findings filter: its rows and its count agree, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from trialwatch.store import Store
from trialwatch.store import read_models as rm
from trialwatch.store.models import FindingRow, Study, WatchlistTrial

NOW = datetime(2026, 3, 1, tzinfo=UTC)
# Watchlist a holds trials 1-4; b holds 2 and held 3 (it left b's query).
MEMBERS = [("a", 1, None), ("a", 2, None), ("a", 3, None), ("a", 4, None), ("b", 2, None), ("b", 3, NOW)]
# (trial, code, open): trial 2 has two open findings; trial 3's X is resolved; trial 5 is in no watchlist.
FINDINGS = [(1, "X", True), (2, "X", True), (2, "Y", True), (3, "X", False), (3, "Y", True), (5, "X", True)]


def _nct(n: int) -> str:
    return f"NCT{n:08d}"


def _fill(store: Store) -> None:
    with store.session() as session:
        for n in range(1, 6):
            session.add(Study(nct_id=_nct(n), title=f"Trial {n}", first_seen_at=NOW))
        for watchlist, n, left in MEMBERS:
            session.add(WatchlistTrial(watchlist=watchlist, nct_id=_nct(n), via="id", first_seen_at=NOW,
                                       last_seen_at=NOW, left_at=left))  # fmt: skip
        for i, (n, code, is_open) in enumerate(FINDINGS):
            key = f"{code}:{_nct(n)}"
            session.add(
                FindingRow(key=key, nct_id=_nct(n), code=code, category="results", severity="major", title="t",
                           detail="", rule="r", certainty="high", evidence={}, first_seen_at=NOW,
                           last_seen_at=NOW, opened_run_id=i, open_key=key if is_open else None)
            )  # fmt: skip


def _rows(store: Store, **filters: str) -> tuple[int, set[tuple[str, int]]]:
    with store.session() as session:
        page = rm.overview(session, rm.PageRequest(per_page=20), **filters)  # type: ignore[arg-type]
    return page.total, {(row.watchlist, int(row.study.nct_id[3:])) for row in page.items}


def _exercise(store: Store) -> None:
    _fill(store)
    assert _rows(store, finding="any") == (4, {("a", 1), ("a", 2), ("a", 3), ("b", 2)})
    assert _rows(store, finding="X") == (3, {("a", 1), ("a", 2), ("b", 2)})
    assert _rows(store, finding="Y") == (3, {("a", 2), ("a", 3), ("b", 2)})
    assert _rows(store, finding="Z") == (0, set())
    assert _rows(store, finding="any", watchlist="b") == (1, {("b", 2)})
    assert _rows(store, finding="X", watchlist="a") == (2, {("a", 1), ("a", 2)})


def test_open_findings_filter_on_sqlite(store: Store) -> None:
    _exercise(store)


@pytest.mark.postgres
def test_open_findings_filter_on_postgres(pg_store: Store) -> None:
    _exercise(pg_store)


def test_no_open_findings_count_nothing(pg_or_sqlite: Store) -> None:
    with pg_or_sqlite.session() as session:
        session.add(Study(nct_id=_nct(1), title="Trial 1", first_seen_at=NOW))
        session.add(
            WatchlistTrial(watchlist="a", nct_id=_nct(1), via="id", first_seen_at=NOW, last_seen_at=NOW)
        )
    assert _rows(pg_or_sqlite, finding="any") == (0, set())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pg_or_sqlite(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue("store" if request.param == "sqlite" else "pg_store")
