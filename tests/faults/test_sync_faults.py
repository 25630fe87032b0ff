"""The whole sync against the fault registry: a registry fault costs one trial or one query, never the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from trialwatch.pipeline import run_sync
from trialwatch.registry import CtgovClient
from trialwatch.store import Store
from trialwatch.store.models import ChangeEventRow, Study, StudyVersion, WatchlistTrial
from trialwatch.watchlists import Query, Watchlist

from .fault_registry import SEARCH_IDS, Fault, FaultRegistry

WATCHED = "NCT10000001"
OTHER = "NCT10000002"


def watchlist(tmp_path: Path, **fields: object) -> Watchlist:
    return Watchlist(name="t", path=tmp_path / "t.yaml", title="test", **fields)  # type: ignore[arg-type]


def count(store: Store, model: type, **where: object) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model).filter_by(**where)) or 0


def sync(store: Store, client: CtgovClient, watched: Watchlist):  # type: ignore[no-untyped-def]
    return run_sync(store, client, [watched], use_history=False)


def test_a_record_of_another_id_fails_the_trial_and_is_no_alias(
    store: Store, make_client: Callable[..., CtgovClient], faults: FaultRegistry, tmp_path: Path
) -> None:
    client = make_client()
    watched = watchlist(tmp_path, nct_ids=(WATCHED, OTHER))
    faults.set(Fault("wrong_id", target=WATCHED, other_id="NCT20000001"))
    first = sync(store, client, watched)
    assert [f["nct_id"] for f in first.failures] == [WATCHED]
    assert f"asked for {WATCHED}, registry returned NCT20000001" in first.failures[0]["error"]
    assert count(store, ChangeEventRow, path="record.alias") == 0
    assert count(store, StudyVersion, nct_id="NCT20000001") == 0
    with store.session() as session:
        assert session.get(Study, WATCHED) is None  # nothing stored for it, least of all an alias

    faults.clear()
    second = sync(store, client, watched)
    assert second.failures == []
    assert count(store, StudyVersion, nct_id=WATCHED) == 1
    with store.session() as session:
        assert session.get(Study, WATCHED).alias_of is None  # type: ignore[union-attr]


def test_a_nan_record_fails_that_trial_and_raises_no_event(
    store: Store, make_client: Callable[..., CtgovClient], faults: FaultRegistry, tmp_path: Path
) -> None:
    client = make_client()
    watched = watchlist(tmp_path, nct_ids=(WATCHED, OTHER))
    sync(store, client, watched)
    faults.set(Fault("nan", target=WATCHED))
    summary = sync(store, client, watched)
    assert [f["nct_id"] for f in summary.failures] == [WATCHED]
    assert "malformed record" in summary.failures[0]["error"] and "NaN" in summary.failures[0]["error"]
    assert summary.fetched == 1 and summary.unchanged == 1  # the other trial went through as usual
    with store.session() as session:
        stored = [json.dumps(row.raw_json) for row in session.scalars(select(StudyVersion))]
        events = list(session.scalars(select(ChangeEventRow)))
    assert all("NaN" not in text for text in stored)
    assert [e for e in events if not e.backfill] == []


def test_a_number_out_of_range_fails_that_trial_alone(
    store: Store, make_client: Callable[..., CtgovClient], faults: FaultRegistry, tmp_path: Path
) -> None:
    # A batch page's typed decode skips over numbers; its checks see the exponent and send the page
    # the ordinary way, which refuses it, and the records fetched one by one name the trial.
    client = make_client()
    watched = watchlist(tmp_path, nct_ids=(WATCHED, OTHER))
    sync(store, client, watched)
    faults.set(Fault("overflow_float", target=WATCHED))
    summary = sync(store, client, watched)
    assert [f["nct_id"] for f in summary.failures] == [WATCHED]
    assert f"/studies/{WATCHED}: the number 1e999 is out of range" in summary.failures[0]["error"]
    assert summary.fetched == 1 and summary.unchanged == 1
    assert count(store, StudyVersion, nct_id=WATCHED) == 1  # what was stored stays, nothing added
    with store.session() as session:
        assert [e for e in session.scalars(select(ChangeEventRow)) if not e.backfill] == []


def test_a_huge_record_fails_that_trial_naming_the_limit(
    store: Store, make_client: Callable[..., CtgovClient], faults: FaultRegistry, tmp_path: Path
) -> None:
    client = make_client()
    faults.set(Fault("huge_record", target=WATCHED, record_bytes=2_000_000))
    summary = sync(store, client, watchlist(tmp_path, nct_ids=(WATCHED, OTHER)))
    assert [f["nct_id"] for f in summary.failures] == [WATCHED]
    assert "over the 1,000,000-byte limit (max_record_bytes)" in summary.failures[0]["error"]
    assert count(store, StudyVersion, nct_id=OTHER) == 1
    assert count(store, StudyVersion, nct_id=WATCHED) == 0


def test_a_trickling_record_fails_that_trial_at_the_deadline(
    store: Store, make_client: Callable[..., CtgovClient], faults: FaultRegistry, tmp_path: Path
) -> None:
    client = make_client()
    # The batch page holding the trial trickles: the batch fails at the deadline, the run goes on.
    faults.set(Fault("trickle", target=WATCHED, trickle_seconds=10))
    summary = sync(store, client, watchlist(tmp_path, nct_ids=(WATCHED,)))
    assert [f["nct_id"] for f in summary.failures] == [WATCHED]
    assert "within 1.5 s (request_timeout)" in summary.failures[0]["error"]
    assert summary.status != "ok"


def test_an_endless_query_is_cut_off_keeps_its_members_and_marks_nobody_left(
    store: Store, make_client: Callable[..., CtgovClient], faults: FaultRegistry, tmp_path: Path
) -> None:
    client = make_client(max_pages=2)
    query = Query(name="everything", params={"query.cond": "cancer"}, max_results=100_000)
    watched = watchlist(tmp_path, queries=(query,))
    first = sync(store, client, watched)
    assert first.failures == []
    assert count(store, WatchlistTrial, watchlist="t") == len(SEARCH_IDS)

    faults.set(Fault("endless_new_ids", page_size=5))
    second = sync(store, client, watched)
    problems = [f["error"] for f in second.failures if not f["nct_id"]]
    assert len(problems) == 1
    assert problems[0].startswith("watchlist 't', query 'everything': search {")
    assert "more than 2 pages (max_pages" in problems[0]
    # The 10 ids of the two pages joined; the three earlier members did not "leave".
    assert count(store, WatchlistTrial, watchlist="t", left_at=None) == len(SEARCH_IDS) + 10
    assert count(store, ChangeEventRow, path="record.leftQuery") == 0
