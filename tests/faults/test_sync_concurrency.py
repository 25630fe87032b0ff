"""Two syncs on one store at once leave exactly what one sync leaves: CLI + CLI and CLI + a DAG run,
on SQLite and on PostgreSQL, against the replay registry over HTTP. Also with the lease bypassed."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from trialwatch.pipeline import plan_sync, record_study, run_sync, sync_batch
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayServer
from trialwatch.store import Store
from trialwatch.store import repository as repo
from trialwatch.store.models import (
    BackfillEntry,
    ChangeEventRow,
    Study,
    StudyVersion,
    SyncLease,
    SyncRun,
    WatchlistTrial,
)
from trialwatch.store.plans import load_batch
from trialwatch.watchlists import load_watchlists

REPO = Path(__file__).resolve().parents[2]
# Long enough between requests that the first sync still holds the lease when the second starts.
SLOW_INTERVAL = "3.0"  # a new trial costs one request now: keep the first sync going


def counts(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {
            "versions": session.scalar(select(func.count()).select_from(StudyVersion)) or 0,
            "events": session.scalar(select(func.count()).select_from(ChangeEventRow)) or 0,
            "memberships": session.scalar(select(func.count()).select_from(WatchlistTrial)) or 0,
            "studies": session.scalar(select(func.count()).select_from(Study)) or 0,
            "queued": session.scalar(select(func.count()).select_from(BackfillEntry)) or 0,
        }


def run_statuses(store: Store) -> list[str]:
    with store.session() as session:
        return sorted(session.scalars(select(SyncRun.status)))


@pytest.fixture
def one_sync_counts(tmp_path: Path, replay: ReplayServer) -> dict[str, int]:
    """What a single sync of the project's watchlists leaves in a fresh store (replay day 1)."""
    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.upgrade()
    client = CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)
    assert run_sync(reference, client, load_watchlists().watchlists).status == "ok"
    found = counts(reference)
    reference.dispose()
    # The project's watchlists on day 1: 4 new trials, each its current version, history queued.
    assert found["versions"] == found["studies"] == found["queued"] == 4 and found["events"] == 0
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_url")  # a throwaway database, dropped afterwards


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "include"), str(REPO / "plugins")])
    env["TRIALWATCH_HOME"] = str(tmp_path / "home")
    env.pop("TRIALWATCH_WATCHLISTS", None)
    return env


def _cli_sync(replay: ReplayServer, store_url: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trialwatch.cli", "sync", "--api", replay.base_url, "--store", store_url]
        + ["--min-interval", SLOW_INTERVAL],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_lease(store: Store, process: subprocess.Popen[str]) -> None:
    """Until the sync in ``process`` holds the lease for its run (or it ended, which fails the test)."""
    for _ in range(1200):
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the first sync ended before it took the lease: {out}{err}")
        # The schema may not exist yet: look again.
        with contextlib.suppress(SQLAlchemyError), store.session() as session:
            if session.scalar(select(SyncLease.run_id)) is not None:
                return
        time.sleep(0.1)
    pytest.fail("the first sync never took the sync lease")


def test_two_cli_syncs_at_once_leave_the_counts_of_one_sync(
    replay: ReplayServer, store_url: str, one_sync_counts: dict[str, int], tmp_path: Path
) -> None:
    env = _env(tmp_path)
    store = Store(store_url)
    first = _cli_sync(replay, store_url, env)
    _wait_for_lease(store, first)
    second = _cli_sync(replay, store_url, env)
    second_out, second_err = second.communicate(timeout=300)
    first_out, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_out + first_err
    assert second.returncode == 1, second_out + second_err
    # Log lines go to stderr too; the command's own message is its last line, and no traceback.
    line = second_err.strip().splitlines()[-1]
    assert "Traceback" not in second_err
    assert (
        line.startswith("trialwatch: error: another sync is running (sync run ")
        and "this one did nothing" in line
    )
    assert counts(store) == one_sync_counts
    assert run_statuses(store) == ["ok", "skipped"]
    store.dispose()


@pytest.mark.airflow
def test_a_cli_sync_while_the_dag_runs_leaves_the_counts_of_one_sync(
    replay: ReplayServer, store_url: str, one_sync_counts: dict[str, int], tmp_path: Path
) -> None:
    env = _env(tmp_path)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_CTGOV_API": json.dumps(
                {"conn_type": "http", "host": replay.base_url, "extra": {"min_interval": 1.5}}
            ),
            "TRIALWATCH_STORE_URL": store_url,
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run(
        [airflow, "db", "migrate"], check=False, env=env, cwd=REPO, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    store = Store(store_url)
    dag_run = subprocess.Popen(
        [airflow, "dags", "test", "trialwatch_sync", "-c", json.dumps({"force": True})],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for_lease(store, dag_run)
    cli = _cli_sync(replay, store_url, env)
    cli_out, cli_err = cli.communicate(timeout=300)
    dag_log, _ = dag_run.communicate(timeout=600)
    assert dag_run.returncode == 0, dag_log[-3000:]
    assert cli.returncode == 1 and "another sync is running" in cli_err, cli_out + cli_err
    assert counts(store) == one_sync_counts
    assert run_statuses(store) == ["ok", "skipped"]
    # The DAG's finish gave the lease back: the next sync runs, and finds nothing new.
    after = _cli_sync(replay, store_url, env)
    out, err = after.communicate(timeout=300)
    assert after.returncode == 0 and "0 new versions, 0 events" in out, out + err
    assert counts(store) == one_sync_counts
    store.dispose()


def test_two_syncs_that_bypass_the_lease_still_store_each_version_and_event_once(
    replay: ReplayServer, store_url: str, one_sync_counts: dict[str, int]
) -> None:
    """Both runs plan (one after the other, so each holds the lease in turn), then their batches race
    without checking the lease: only the unique keys stand between them and duplicates."""
    store = Store(store_url)
    store.upgrade()
    watchlists = load_watchlists().watchlists
    plans = []
    for _ in range(2):
        client = CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)
        plan = plan_sync(store, client, watchlists)
        with store.session() as session:
            session.execute(SyncLease.__table__.delete())  # bypass: let the second run plan as well
            # The next plan replaces this one's stored batches: keep its ids now.
            ids = [load_batch(session, plan.run_id, b["batch"]).nct_ids for b in plan.batches]
        plans.append((plan, ids))
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def batches(plan, ids) -> None:  # type: ignore[no-untyped-def]
        client = CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)
        start.wait()
        try:
            for batch in ids:
                sync_batch(store, client, batch, run_id=plan.run_id, data_timestamp=plan.data_timestamp)
        except BaseException as exc:  # noqa: BLE001 - a thread cannot raise into the test; surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=batches, args=planned) for planned in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert counts(store) == one_sync_counts
    store.dispose()


def test_a_version_written_meanwhile_by_another_sync_counts_as_already_recorded(
    store: Store, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second writer read the store before the first committed (forced here): its insert hits
    the unique key, is rolled back as a whole and reported as unchanged, not as an error."""
    client = CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)
    study = client.fetch_studies(["NCT02185781"]).studies["NCT02185781"]
    from trialwatch.registry.history import HistoryAdapter

    first = record_study(store, study, history=HistoryAdapter(client), data_timestamp=replay.data_timestamp)
    assert first.versions == 1  # a new trial: its current version (its history is queued)
    before = counts(store)
    monkeypatch.setattr(repo, "current_version", lambda session, nct_id: (None, None))
    second = record_study(store, study, history=HistoryAdapter(client), data_timestamp=replay.data_timestamp)
    assert (second.versions, second.events, second.unchanged) == (0, 0, 1)
    assert counts(store) == before
