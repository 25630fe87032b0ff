"""The sync, in-process, against the replay registry over HTTP: versions, events, history, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from trialwatch import settings
from trialwatch.backfill import run_backfill
from trialwatch.diff import DIFF_STATS
from trialwatch.pipeline import run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayServer
from trialwatch.store import Store
from trialwatch.store.models import ChangeEventRow, Study, StudyVersion, SyncRun, version_order
from trialwatch.watchlists import Watchlist, load_watchlists

SAMPLES = settings.PACKAGE_DIR / "replay" / "data" / "samples"


@pytest.fixture
def client(replay: ReplayServer) -> CtgovClient:
    return CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)


def _watchlist(tmp_path: Path, **fields: object) -> Watchlist:
    return Watchlist(name="t", path=tmp_path / "t.yaml", title="test", **fields)  # type: ignore[arg-type]


def _events(store: Store, **where: object) -> list[ChangeEventRow]:
    with store.session() as session:
        query = select(ChangeEventRow).filter_by(**where).order_by(ChangeEventRow.id)
        return list(session.scalars(query))


def test_day_two_reports_each_new_registry_version_of_the_seed_trials(
    store: Store, replay: ReplayServer, client: CtgovClient
) -> None:
    watchlists = load_watchlists().watchlists
    day1 = run_sync(store, client, watchlists)
    assert (day1.status, day1.failures, day1.changed) == ("ok", [], [])
    # New trials: the sync stores their current version; their history comes from the backfill,
    # so the timeline starts at registration, and none of it is news.
    assert _events(store) == []
    run_backfill(store, client, budget=100)
    assert {e.backfill for e in _events(store)} == {True}
    with store.session() as session:
        first = session.scalars(
            select(StudyVersion).where(StudyVersion.nct_id == "NCT02185781").order_by(*version_order())
        ).first()
        assert first is not None and first.registry_version == 0

    replay.set_day(2)
    day2 = run_sync(store, client, watchlists)
    assert sorted(day2.changed) == ["NCT02185781", "NCT04327037"]
    news = [e for e in _events(store, backfill=False)]
    by_version = {(e.nct_id, e.old_version, e.new_version) for e in news}
    # NCT02185781 got two versions since day 1 (v3 → v4 → v5), NCT04327037 one (v2 → v3).
    assert by_version == {("NCT02185781", 3, 4), ("NCT02185781", 4, 5), ("NCT04327037", 2, 3)}
    status = [(e.nct_id, e.old, e.new) for e in news if e.field == "Overall status"]
    assert status == [
        ("NCT02185781", "RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("NCT02185781", "ACTIVE_NOT_RECRUITING", "COMPLETED"),
        ("NCT04327037", "RECRUITING", "COMPLETED"),
    ]
    enrollment = [(e.nct_id, e.old, e.new, e.severity) for e in news if e.field == "Enrollment"]
    assert enrollment == [("NCT02185781", 12, 6, "major"), ("NCT04327037", 24, 10, "major")]
    for event in news:
        assert event.old_hash and event.new_hash and event.old_hash != event.new_hash
        assert event.new_version_date is not None


def test_noise_only_rebuild_stores_nothing(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    """NCT02552212's day-2 copy differs only in derivedSection: no version, no event, no diff run."""
    watchlist = _watchlist(tmp_path, nct_ids=("NCT02552212",))
    run_sync(store, client, [watchlist])
    replay.set_day(2)
    DIFF_STATS.reset()
    # Its LastUpdatePostDate (2022) did not move: the incremental run does not even fetch it.
    before = len(replay.requests_to(r"NCT02552212"))
    assert run_sync(store, client, [watchlist]).requested == 0
    # One update check names it (filter.ids with the date window); nothing fetches it.
    [check] = replay.requests_to(r"NCT02552212")[before:]
    assert "filter.advanced=" in check and "fields=NCTId" in check
    summary = run_sync(store, client, [watchlist], reconcile=True)
    assert (summary.unchanged, summary.versions, summary.events) == (1, 0, 0)
    assert DIFF_STATS.diff_runs == 0 and DIFF_STATS.deepdiff_calls == 0
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(StudyVersion)) == 1


def test_history_failure_falls_back_to_current_diffs_and_says_so(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path, nct_ids=("NCT02185781",))
    run_sync(store, client, [watchlist])
    run_backfill(store, client, budget=100)  # numbers the stored version (v3)
    replay.set_day(2)
    replay.inject(r"^/api/int/", status=500, times=None)
    summary = run_sync(store, client, [watchlist])
    assert summary.status == "ok" and summary.changed == ["NCT02185781"]
    news = _events(store, backfill=False)
    # One net change v3 → current, without a version number for the new side.
    assert {(e.old_version, e.new_version) for e in news} == {(3, None)}
    assert ("Overall status", "RECRUITING", "COMPLETED") in [(e.field, e.old, e.new) for e in news]
    with store.session() as session:
        notes = session.get(SyncRun, summary.run_id).notes  # type: ignore[union-attr]
    assert any("Version history unavailable" in note for note in notes)


def test_a_stored_record_gone_from_the_registry_is_reported_once_as_critical(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path, nct_ids=("NCT02185781", "NCT04327037"))
    assert run_sync(store, client, [watchlist]).status == "ok"
    # From now on the registry leaves NCT02185781 out of batch answers and answers 404 for it.
    replay.inject(
        r"^/api/v2/studies\?.*filter\.ids=",
        status=200,
        times=None,
        body=json.dumps({"studies": []}),
        content_type="application/json",
    )
    replay.inject(r"^/api/v2/studies/NCT02185781", status=404, times=None)
    # A record that left public view posts no update: the reconciliation notices it.
    second = run_sync(store, client, [watchlist], reconcile=True)
    assert second.changed == ["NCT02185781"]
    gone = _events(store, nct_id="NCT02185781", path="record.gone")
    assert [(e.category, e.severity) for e in gone] == [("identity", "critical")]
    run_sync(store, client, [watchlist], reconcile=True)
    assert len(_events(store, nct_id="NCT02185781", path="record.gone")) == 1
    with store.session() as session:
        assert session.get(Study, "NCT02185781").gone_at is not None  # type: ignore[union-attr]


def test_a_trial_that_never_existed_is_a_watchlist_problem_not_gone(
    store: Store, client: CtgovClient, tmp_path: Path
) -> None:
    from trialwatch.digest.service import pipeline_health

    watchlist = _watchlist(tmp_path, nct_ids=("NCT02185781", "NCT99999999"))
    summary = run_sync(store, client, [watchlist])
    assert summary.status == "partial" and summary.changed == []
    assert summary.failures == [
        {
            "nct_id": "NCT99999999",
            "error": "not found in the registry (never stored: check the id in the watchlist)",
        }
    ]
    assert _events(store, nct_id="NCT99999999") == []
    with store.session() as session:
        assert session.get(Study, "NCT99999999") is None
        footer = pipeline_health(session, watched={"NCT02185781", "NCT99999999"})
    assert ("NCT99999999", summary.failures[0]["error"]) in footer.failures


def test_a_trial_that_leaves_a_query_is_reported(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    from trialwatch.watchlists import Query

    recruiting = Query(
        name="recruiting NK trials",
        params={
            "query.cond": "acute leukemia",
            "query.intr": "NK cells",
            "filter.overallStatus": "RECRUITING",
        },
    )
    watchlist = _watchlist(tmp_path, queries=(recruiting,))
    assert run_sync(store, client, [watchlist]).requested == 2
    replay.set_day(2)  # both seeds are COMPLETED now: the search no longer finds them
    assert run_sync(store, client, [watchlist]).scope == "incremental"
    assert _events(store, path="record.leftQuery") == []  # an incremental run marks nobody as left
    assert run_sync(store, client, [watchlist], reconcile=True).scope == "full"
    left = _events(store, path="record.leftQuery")
    assert sorted(e.nct_id for e in left) == ["NCT02185781", "NCT04327037"]


def test_a_malformed_record_is_reported_and_the_rest_of_the_batch_is_stored(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    broken = json.loads((SAMPLES / "study_NCT00184067.json").read_text())
    broken["protocolSection"]["statusModule"] = ["not", "an", "object"]
    replay.inject(
        r"^/api/v2/studies\?.*filter\.ids=NCT00184067",
        status=200,
        body=json.dumps({"studies": [broken]}),
        content_type="application/json",
    )
    watchlist = _watchlist(tmp_path, nct_ids=("NCT00184067", "NCT03418623"))
    summary = run_sync(store, client, [watchlist], batch_size=1)
    assert summary.status == "partial"
    assert summary.failures == [
        {
            "nct_id": "NCT00184067",
            "error": "MalformedRecord: NCT00184067: protocolSection.statusModule is a list, expected an object",
        }
    ]
    with store.session() as session:
        assert session.get(Study, "NCT03418623") is not None
        assert session.get(Study, "NCT00184067") is None


def test_a_registry_error_page_is_reported_with_its_url_and_loses_nothing(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path, nct_ids=("NCT03418623",))
    run_sync(store, client, [watchlist])
    with store.session() as session:
        stored = session.scalar(select(func.count()).select_from(StudyVersion))
    replay.inject(
        r"^/api/v2/studies",
        status=200,
        times=None,
        content_type="text/html",
        body="<html><body>Service maintenance</body></html>",
    )
    summary = run_sync(store, client, [watchlist])
    assert summary.status == "partial"
    [failure] = summary.failures
    assert failure["nct_id"] == "NCT03418623"
    assert "text/html" in failure["error"] and "/api/v2/studies" in failure["error"]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(StudyVersion)) == stored
        assert session.get(Study, "NCT03418623").current_hash is not None  # type: ignore[union-attr]


@pytest.mark.postgres
def test_day_one_and_two_on_postgres(pg_store: Store, replay: ReplayServer, client: CtgovClient) -> None:
    watchlists = load_watchlists().watchlists
    run_sync(pg_store, client, watchlists)
    replay.set_day(2)
    summary = run_sync(pg_store, client, watchlists)
    assert sorted(summary.changed) == ["NCT02185781", "NCT04327037"]
    assert len(_events(pg_store, backfill=False)) == summary.events


@pytest.mark.parametrize(
    ("backfilled", "note"),
    [(True, "older than the stored version 5"), (False, "older than the stored record, posted 2026-10-08")],
)
def test_an_older_version_served_later_is_not_reported_as_a_change(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path, backfilled: bool, note: str
) -> None:
    """Numbered by the backfill, or not yet (then its posting date tells it is newer)."""
    watchlist = _watchlist(tmp_path, nct_ids=("NCT02185781",))
    replay.set_day(2)
    run_sync(store, client, [watchlist])
    if backfilled:
        run_backfill(store, client, budget=100)
    replay.set_day(1)  # a stale mirror: version 3 after version 5 was stored
    summary = run_sync(store, client, [watchlist], reconcile=True)
    assert (summary.unchanged, summary.versions, summary.events) == (1, 0, 0)
    assert any(note in line for line in summary.notes)
    with store.session() as session:
        assert session.get(Study, "NCT02185781").overall_status == "COMPLETED"  # type: ignore[union-attr]


def test_a_broken_watchlist_is_reported_with_the_run_and_the_others_still_sync(
    store: Store, client: CtgovClient, tmp_path: Path
) -> None:
    (tmp_path / "good.yaml").write_text("title: Good\ntrials: [NCT03418623]\nrecipients: [a@example.org]\n")
    (tmp_path / "broken.yaml").write_text("title: Broken\ntrials: [not-an-id]\n")
    loaded = load_watchlists(tmp_path)
    summary = run_sync(store, client, loaded.watchlists, watchlist_errors=loaded.errors)
    assert summary.fetched == 1 and summary.status == "partial"
    [failure] = summary.failures
    assert failure["error"].startswith("watchlist skipped: ") and "broken.yaml" in failure["error"]


@pytest.mark.parametrize(
    ("watchlists_thresholds", "severity"),
    [
        ([{"primary_completion_major_days": 120}], "minor"),
        # A second watchlist with the default 90 days: events are rated for the more demanding one.
        ([{"primary_completion_major_days": 120}, {}], "major"),
    ],
)
def test_thresholds_per_watchlist_rate_the_primary_completion_move(
    store: Store,
    replay: ReplayServer,
    client: CtgovClient,
    tmp_path: Path,
    watchlists_thresholds: list[dict],
    severity: str,
) -> None:
    watchlists = [
        Watchlist(
            name=f"w{i}", path=tmp_path / f"w{i}.yaml", title="t", nct_ids=("NCT02185781",), thresholds=t
        )
        for i, t in enumerate(watchlists_thresholds)
    ]
    run_sync(store, client, watchlists)
    replay.set_day(2)
    run_sync(store, client, watchlists)
    [moved] = [e for e in _events(store, backfill=False) if e.field == "Primary completion date"]
    assert moved.detail.startswith("moved 92 days earlier")
    assert moved.severity == severity


def test_only_full_runs_that_fetched_most_trials_count_as_synced(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    from trialwatch.store.repository import last_data_timestamp

    watchlist = _watchlist(tmp_path, nct_ids=("NCT02185781", "NCT04327037"))
    run_sync(store, client, [watchlist], only_ids=["NCT02185781"])
    with store.session() as session:
        assert last_data_timestamp(session) is None  # a manual run for one trial is not the day's sync
    replay.inject(
        r"^/api/v2/studies", status=200, times=None, content_type="text/html", body="<html>down</html>"
    )
    assert run_sync(store, client, [watchlist]).fetched == 0
    with store.session() as session:
        assert last_data_timestamp(session) is None  # nothing fetched: try this build again
    replay.clear_faults()
    run_sync(store, client, [watchlist])
    with store.session() as session:
        assert last_data_timestamp(session) == replay.data_timestamp


def test_a_sync_run_whose_tasks_died_is_closed_as_failed_by_the_next(store: Store) -> None:
    from trialwatch.store import repository as repo

    with store.session() as session:
        dead = repo.start_sync_run(session, data_timestamp="2026-10-05T09:00:04", requested=3)
    with store.session() as session:
        repo.start_sync_run(session, data_timestamp="2026-10-05T09:00:04", requested=3)
    with store.session() as session:
        assert session.get(SyncRun, dead).status == "failed"  # type: ignore[union-attr]


def test_a_trial_removed_from_a_watchlist_leaves_its_digests(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    from trialwatch.digest.selection import select_events

    both = _watchlist(tmp_path, nct_ids=("NCT02185781", "NCT04327037"))
    run_sync(store, client, [both])
    fewer = _watchlist(tmp_path, nct_ids=("NCT04327037",))
    replay.set_day(2)
    run_sync(store, client, [fewer])
    with store.session() as session:
        events = select_events(session, fewer, after_id=None, up_to_id=10**9)
    assert {e.event.nct_id for e in events} == {"NCT04327037"}


def test_a_query_cut_off_at_max_results_marks_nobody_as_left(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    from trialwatch.watchlists import Query

    wide = Query(name="NK", params={"query.cond": "acute leukemia", "query.intr": "NK cells"}, max_results=2)
    narrow = Query(
        name="NK", params={"query.cond": "acute leukemia", "query.intr": "NK cells"}, max_results=1
    )
    run_sync(store, client, [_watchlist(tmp_path, queries=(wide,))])
    summary = run_sync(store, client, [_watchlist(tmp_path, queries=(narrow,))])
    assert _events(store, path="record.leftQuery") == []
    assert any(
        "reached max_results (1)" in note for note in summary.notes + _run_notes(store, summary.run_id)
    )


def _run_notes(store: Store, run_id: int) -> list[str]:
    with store.session() as session:
        return list(session.get(SyncRun, run_id).notes)  # type: ignore[union-attr]
