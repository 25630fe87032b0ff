"""Sync faults: a trial that never existed, malformed ids, a watched set that changed, runs that die
early (registry /version, a store that is unreachable or stays locked), a lease that expired, and a
store upgraded from before the unique keys. The replay registry runs over HTTP on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from trialwatch import settings
from trialwatch.cli import main as cli_main
from trialwatch.digest.service import pipeline_health
from trialwatch.pipeline import (
    UNRECORDED_FILE,
    SyncAborted,
    SyncBusy,
    SyncUsageError,
    abandon_sync,
    parse_nct_ids,
    plan_sync,
    run_sync,
    sync_batch,
    sync_gate,
    sync_planned_batch,
)
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayServer
from trialwatch.store import Store
from trialwatch.store import lease as sync_lease
from trialwatch.store.lease import LeaseLost
from trialwatch.store.models import ChangeEventRow, Study, StudyVersion, SyncRun
from trialwatch.watchlists import Query, Watchlist

NOT_FOUND = "not found in the registry (never stored: check the id in the watchlist)"


@pytest.fixture
def client(replay: ReplayServer) -> CtgovClient:
    return CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)


def _watchlist(tmp_path: Path, name: str = "t", **fields: object) -> Watchlist:
    return Watchlist(name=name, path=tmp_path / f"{name}.yaml", title=name, **fields)  # type: ignore[arg-type]


def _runs(store: Store) -> list[SyncRun]:
    with store.session() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def _count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- a trial that never existed, malformed ids ---------------------------------------------------------


def test_cli_sync_of_a_trial_that_never_existed_reports_not_found_and_no_event(
    store: Store, replay: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["sync", "--api", replay.base_url, "--store", store.url, "--ids", "NCT99999999"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"failed: NCT99999999: {NOT_FOUND}" in out
    assert _count(store, ChangeEventRow) == 0 and _count(store, Study) == 0
    [run] = _runs(store)
    assert (run.status, run.failures) == ("partial", [{"nct_id": "NCT99999999", "error": NOT_FOUND}])


@pytest.mark.parametrize("value", ["NCT123", "NCT1234567890", "https://clinicaltrials.gov/study/"])
def test_cli_sync_with_a_malformed_id_is_a_usage_error_that_records_nothing(
    store: Store, replay: ReplayServer, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code = cli_main(["sync", "--api", replay.base_url, "--store", store.url, "--ids", "NCT02185781", value])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"trialwatch: error: --ids: {value!r} is not an NCT id (NCT followed by 8 digits) or a study URL"
    ]
    assert _runs(store) == [] and replay.requests_to(".") == []


def test_ids_may_be_study_urls_and_repeat() -> None:
    given = ["https://clinicaltrials.gov/study/nct02185781?tab=history", "NCT02185781", "NCT04327037"]
    assert parse_nct_ids(given) == ["NCT02185781", "NCT04327037"]


def test_plan_refuses_a_malformed_id_before_taking_the_lease(store: Store, client: CtgovClient) -> None:
    with pytest.raises(SyncUsageError, match="'NCT123' is not an NCT id"):
        plan_sync(store, client, [], only_ids=["NCT123"])
    assert _runs(store) == []
    with store.session() as session:  # no lease was taken
        assert sync_lease.acquire(session, "someone", now=datetime.now(UTC)) is None


@pytest.mark.airflow
def test_dag_param_with_a_malformed_id_fails_the_plan_with_a_clear_message() -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import AirflowFailException

    dags = str(Path(__file__).resolve().parents[2] / "dags")
    plan = DagBag(dag_folder=dags).dags["trialwatch_sync"].get_task("plan")
    with pytest.raises(AirflowFailException, match=r"nct_ids: 'NCT123' is not an NCT id"):
        plan.python_callable(params={"nct_ids": ["NCT02185781", "NCT123"], "force": False})


@pytest.mark.airflow
def test_dag_plan_skips_the_run_when_the_gate_finds_nothing_to_sync(
    store: Store,
    replay: ReplayServer,
    client: CtgovClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import AirflowSkipException
    from trialwatch.watchlists import load_watchlists

    folder = tmp_path / "watchlists"
    folder.mkdir()
    (folder / "t.yaml").write_text("title: t\ntrials:\n  - NCT02185781\n")
    run_sync(store, client, load_watchlists(folder).watchlists)
    monkeypatch.setenv("TRIALWATCH_STORE_URL", store.url)
    monkeypatch.setenv("TRIALWATCH_WATCHLISTS", str(folder))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CTGOV_API",
        json.dumps({"conn_type": "http", "host": replay.base_url, "extra": {"min_interval": 0}}),
    )
    dags = str(Path(__file__).resolve().parents[2] / "dags")
    plan = DagBag(dag_folder=dags).dags["trialwatch_sync"].get_task("plan")
    params = {"nct_ids": [], "force": False, "reconcile": False}
    with pytest.raises(AirflowSkipException, match=r"nothing to sync: registry data build .* already synced"):
        plan.python_callable(params=params)
    assert len(_runs(store)) == 1  # the skipped check recorded no run and took no lease
    with store.session() as session:
        assert sync_lease.acquire(session, "someone", now=datetime.now(UTC)) is None


# --- the gate: new data, changed watchlists, never-fetched trials ----------------------------------------


def test_gate_syncs_a_new_build_then_nothing_until_something_changes(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    watchlists = [_watchlist(tmp_path, nct_ids=("NCT02185781",))]
    assert sync_gate(store, client, watchlists).mode == "daily"  # nothing synced yet
    run_sync(store, client, watchlists)
    decision = sync_gate(store, client, watchlists)
    assert (decision.mode, bool(decision)) == ("", False)
    replay.set_day(2)  # a new data build
    assert sync_gate(store, client, watchlists).mode == "daily"


def test_gate_fetches_only_new_trials_when_a_watchlist_is_added(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    first = _watchlist(tmp_path, "first", nct_ids=("NCT02185781",))
    run_sync(store, client, [first])
    added = _watchlist(tmp_path, "added", nct_ids=("NCT02185781", "NCT04327037"))
    decision = sync_gate(store, client, [first, added])
    assert decision.mode == "new" and "watchlists changed" in decision.reason
    before = len(replay.requests_to(r"^/api/v2/studies\?.*filter\.ids="))
    summary = run_sync(store, client, [first, added], new_only=True)
    assert summary.requested == 1 and summary.fetched == 1
    batches = replay.requests_to(r"^/api/v2/studies\?.*filter\.ids=")[before:]
    assert len(batches) == 1 and "NCT04327037" in batches[0] and "NCT02185781" not in batches[0]
    [run] = [r for r in _runs(store) if r.id == summary.run_id]
    assert run.scope == "new"
    assert sync_gate(store, client, [first, added]).mode == ""


def test_gate_notices_a_query_added_to_a_watchlist(store: Store, client: CtgovClient, tmp_path: Path) -> None:
    plain = _watchlist(tmp_path, nct_ids=("NCT02552212",))
    run_sync(store, client, [plain])
    nk = Query(name="NK", params={"query.cond": "acute leukemia", "query.intr": "NK cells"})
    with_query = _watchlist(tmp_path, nct_ids=("NCT02552212",), queries=(nk,))
    assert sync_gate(store, client, [with_query]).mode == "new"
    summary = run_sync(store, client, [with_query], new_only=True)
    assert summary.requested == 2 and summary.new_trials == 2  # the two trials the query found


def test_gate_fetches_a_listed_trial_that_was_never_fetched(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    watchlists = [_watchlist(tmp_path, nct_ids=("NCT02185781", "NCT04327037"))]
    replay.inject(r"^/api/v2/studies.*NCT04327037", status=503, times=None)  # down during this sync
    assert run_sync(store, client, watchlists, batch_size=1).status == "partial"
    replay.clear_faults()
    decision = sync_gate(store, client, watchlists)
    assert decision.mode == "new" and "NCT04327037" in decision.reason
    run_sync(store, client, watchlists, new_only=True)
    with store.session() as session:
        assert session.get(Study, "NCT04327037") is not None
    assert sync_gate(store, client, watchlists).mode == ""


def test_gate_does_not_chase_a_trial_the_registry_does_not_have(
    store: Store, client: CtgovClient, tmp_path: Path
) -> None:
    watchlists = [_watchlist(tmp_path, nct_ids=("NCT02185781", "NCT99999999"))]
    run_sync(store, client, watchlists)
    assert sync_gate(store, client, watchlists).mode == ""


# --- runs that die early are recorded ------------------------------------------------------------------


def test_gate_records_a_failed_version_check_with_its_reason(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    replay.inject(r"^/api/v2/version", status=500, times=None)
    with pytest.raises(SyncAborted, match="registry unavailable"):
        sync_gate(store, client, [_watchlist(tmp_path, nct_ids=("NCT02185781",))])
    [run] = _runs(store)
    assert run.status == "failed" and run.finished_at is not None
    assert "registry unavailable" in run.failures[0]["error"] and "500" in run.failures[0]["error"]
    with store.session() as session:
        health = pipeline_health(session)
    assert health.last_sync_status == "failed"
    assert health.failures and health.failures[0][0] == "(whole sync)" and "500" in health.failures[0][1]


def test_cli_sync_whose_version_check_fails_prints_one_line_and_is_recorded(
    store: Store, replay: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    replay.inject(r"^/api/v2/version", status=503, times=None)
    code = cli_main(["sync", "--api", replay.base_url, "--store", store.url, "--min-interval", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("trialwatch: error: registry unavailable, nothing was synced:")
    )
    assert "Traceback" not in err
    [run] = _runs(store)
    assert run.status == "failed" and "registry unavailable" in run.failures[0]["error"]
    # The lease was given back: the next sync runs.
    replay.clear_faults()
    assert cli_main(["sync", "--api", replay.base_url, "--store", store.url, "--ids", "NCT02185781"]) == 0


def test_a_sync_whose_store_goes_away_in_a_batch_is_closed_as_failed_and_frees_the_lease(
    store: Store, client: CtgovClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialwatch import pipeline

    def store_goes_away(*args: object, **kwargs: object) -> None:
        raise OperationalError(
            "INSERT INTO study_versions ...", {}, Exception("server closed the connection")
        )

    monkeypatch.setattr(pipeline, "record_study", store_goes_away)
    with pytest.raises(OperationalError):
        run_sync(store, client, [_watchlist(tmp_path, nct_ids=("NCT02185781",))])
    [run] = _runs(store)
    assert run.status == "failed" and "server closed the connection" in run.failures[0]["error"]
    monkeypatch.undo()
    assert run_sync(store, client, [_watchlist(tmp_path, nct_ids=("NCT02185781",))]).status == "ok"


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TRIALWATCH_HOME of this test's own, so a kept failure cannot reach another test's store."""
    home = tmp_path / "home"
    monkeypatch.setenv("TRIALWATCH_HOME", str(home))
    return home


def test_an_unreachable_store_is_one_line_and_recorded_by_the_next_run(
    store: Store, replay: ReplayServer, capsys: pytest.CaptureFixture[str], own_home: Path
) -> None:
    down = "postgresql+psycopg2://postgres@127.0.0.1:9/nothing"  # nothing listens on port 9
    code = cli_main(["sync", "--api", replay.base_url, "--store", down])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith(
        "trialwatch: error: the store was unreachable, the sync did not run: OperationalError"
    )
    kept = own_home / UNRECORDED_FILE
    assert settings.home() == own_home and kept.exists()
    assert cli_main(["sync", "--api", replay.base_url, "--store", store.url, "--ids", "NCT02185781"]) == 0
    failed, ok = _runs(store)
    assert failed.status == "failed" and "the store was unreachable" in failed.failures[0]["error"]
    assert ok.status == "ok" and not kept.exists()


def test_a_sqlite_store_that_stays_locked_is_one_line_and_recorded_later(
    store: Store,
    replay: ReplayServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    own_home: Path,
) -> None:
    import sqlite3

    from trialwatch.store import db

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(store.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing and never letting go
    try:
        code = cli_main(["sync", "--api", replay.base_url, "--store", store.url, "--ids", "NCT02185781"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert (
        err[-1].startswith("trialwatch: error: the store was unreachable") and "database is locked" in err[-1]
    )
    assert (own_home / UNRECORDED_FILE).exists()
    assert cli_main(["sync", "--api", replay.base_url, "--store", store.url, "--ids", "NCT02185781"]) == 0
    assert [r.status for r in _runs(store)] == ["failed", "ok"]


# --- the lease ---------------------------------------------------------------------------------------


def test_a_second_sync_waits_a_bounded_time_then_records_a_skipped_run(
    store: Store, client: CtgovClient, tmp_path: Path
) -> None:
    watchlists = [_watchlist(tmp_path, nct_ids=("NCT02185781",))]
    plan = plan_sync(store, client, watchlists)
    with pytest.raises(SyncBusy, match=rf"another sync is running \(sync run {plan.run_id} holds"):
        run_sync(store, client, watchlists, lock_wait=0.3)
    statuses = [(r.id, r.status) for r in _runs(store)]
    assert statuses == [(plan.run_id, "running"), (plan.run_id + 1, "skipped")]
    with store.session() as session:
        footer = pipeline_health(session)
    assert footer.last_sync_status == "running"  # the digest footer shows the real sync, not the skip


def test_batches_of_the_same_run_share_the_lease_and_a_stranger_is_refused(
    store: Store, client: CtgovClient, tmp_path: Path
) -> None:
    plan = plan_sync(
        store, client, [_watchlist(tmp_path, nct_ids=("NCT02185781", "NCT04327037"))], batch_size=1
    )
    assert [batch["size"] for batch in plan.batches] == [1, 1]
    for batch in plan.batches:  # each batch loads its ids, checks and extends its run's lease
        assert sync_planned_batch(store, client, plan.run_id, batch["batch"]).fetched == 1
    with pytest.raises(LeaseLost, match=f"sync run {plan.run_id} no longer holds"):
        sync_batch(store, client, [], run_id=plan.run_id, data_timestamp=None, lease="not-the-holder")


def test_an_expired_lease_is_taken_over_and_the_dead_run_is_closed_with_a_reason(
    store: Store,
    client: CtgovClient,
    tmp_path: Path,
    time_machine,  # type: ignore[no-untyped-def]
) -> None:
    watchlists = [_watchlist(tmp_path, nct_ids=("NCT02185781",))]
    time_machine.move_to("2026-11-20T08:00:00Z", tick=True)
    dead = plan_sync(store, client, watchlists)  # its processes die: no batch, no finish
    time_machine.move_to("2026-11-20T08:31:00Z", tick=True)  # past the 30-minute lease
    summary = run_sync(store, client, watchlists)
    assert summary.status == "ok"
    with store.session() as session:
        closed = session.get(SyncRun, dead.run_id)
    assert closed is not None and closed.status == "failed"
    assert f"closed by sync run {summary.run_id}" in closed.failures[0]["error"]
    with pytest.raises(LeaseLost):
        sync_batch(store, client, [], run_id=dead.run_id, data_timestamp=None, lease=dead.lease)


def test_a_live_lease_is_not_taken_before_it_expires(
    store: Store,
    client: CtgovClient,
    tmp_path: Path,
    time_machine,  # type: ignore[no-untyped-def]
) -> None:
    watchlists = [_watchlist(tmp_path, nct_ids=("NCT02185781",))]
    time_machine.move_to("2026-11-20T08:00:00Z", tick=True)
    plan_sync(store, client, watchlists)
    time_machine.move_to("2026-11-20T08:29:00Z", tick=True)
    with pytest.raises(SyncBusy):
        run_sync(store, client, watchlists)


def test_an_abandoned_run_is_closed_with_its_reason_and_frees_the_lease(
    store: Store, client: CtgovClient, tmp_path: Path
) -> None:
    """What the DAG does when a batch fails its last try: finish will not run."""
    watchlists = [_watchlist(tmp_path, nct_ids=("NCT02185781",))]
    plan = plan_sync(store, client, watchlists)
    abandon_sync(store, plan.run_id, plan.lease, "batch NCT02185781 failed: OperationalError: gone")
    [run] = _runs(store)
    assert run.status == "failed" and run.failures[-1]["error"].endswith("OperationalError: gone")
    with pytest.raises(LeaseLost):
        sync_batch(store, client, [], run_id=plan.run_id, data_timestamp=None, lease=plan.lease)
    assert run_sync(store, client, watchlists).status == "ok"


# --- a store from before the unique keys ------------------------------------------------------------


def _store_at_0003_with_copies(url: str) -> Store:
    """A store at revision 0003 where two overlapping syncs wrote one trial's two versions twice."""
    store = Store(url)
    store.upgrade("0003")
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO studies (nct_id, title, first_seen_at) VALUES ('NCT02185781', 't', :now)"),
            {"now": "2026-11-20 08:00:00"},
        )
        for copy in range(2):  # the same two registry versions, once per sync
            for version in (3, 4):
                conn.execute(
                    text(
                        "INSERT INTO study_versions (nct_id, content_hash, registry_version, fetched_at, "
                        "source, raw_json) VALUES ('NCT02185781', :hash, :version, :now, 'history', '{}')"
                    ),
                    {"hash": f"{version:064d}", "version": version, "now": "2026-11-20 08:00:00"},
                )
        ids = [row[0] for row in conn.execute(text("SELECT id FROM study_versions ORDER BY id"))]
        for version_id in (ids[1], ids[3]):  # each copy of version 4 carries its status event
            conn.execute(
                text(
                    "INSERT INTO change_events (nct_id, version_id, category, field, path, severity, "
                    "detail, backfill, detected_at) VALUES ('NCT02185781', :vid, 'status', "
                    "'Overall status', 'protocolSection.statusModule.overallStatus', 'major', '', "
                    ":f, :now)"
                ),
                {"vid": version_id, "f": False, "now": "2026-11-20 08:00:00"},
            )
        conn.execute(text("UPDATE studies SET current_version_id = :id"), {"id": ids[3]})
    return store


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_removes_copies_from_overlapping_syncs_before_adding_the_keys(
    backend: str, sqlite_url: str, request: pytest.FixtureRequest
) -> None:
    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = _store_at_0003_with_copies(url)
    store.upgrade()
    with store.session() as session:
        versions = list(session.scalars(select(StudyVersion).order_by(StudyVersion.id)))
        events = list(session.scalars(select(ChangeEventRow)))
        study = session.get(Study, "NCT02185781")
    assert [(v.registry_version, v.version_key) for v in versions] == [(3, "v3"), (4, "v4")]
    assert len(events) == 1 and events[0].version_id == versions[1].id
    assert study is not None and study.current_version_id == versions[1].id
    store.dispose()
