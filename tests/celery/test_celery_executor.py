"""The DAGs on Airflow's CeleryExecutor: scheduler, dag-processor, api-server and two Celery workers as
separate processes on PostgreSQL and Redis, the replay registry on day 1 then day 2, digests to a
real SMTP server. The expected store content comes from the same sync run in-process (one batch
after the other) against the same replay days: the distributed run must record exactly that.
"""

from __future__ import annotations

import email
import email.policy
import math
import os
import re
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.celery.cluster import WATCHLISTS, WORKERS, Cluster, celery_cluster, free_ports, shared_settings

pytestmark = [pytest.mark.celery, pytest.mark.postgres]

BATCH_SIZE = 3
REDIS_URL = os.environ.get("TRIALWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
RUN_TIMEOUT_S = 420.0
TERMINAL = {"success", "failed"}


def _store_rows(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every stored version and event, as comparable tuples (ids and timestamps left out)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(
                text("SELECT nct_id, registry_version, content_hash, source FROM study_versions")
            ).all()
            events = conn.execute(
                text(
                    "SELECT nct_id, category, field, severity, old_version, new_version, old_hash, new_hash,"
                    " backfill FROM change_events"
                )
            ).all()
    finally:
        engine.dispose()

    def order(row: Any) -> tuple[Any, ...]:  # new trials' versions are stored unnumbered (None)
        return tuple((value is not None, value) if value is not None else (False, 0) for value in row)

    return sorted(map(tuple, versions), key=order), sorted(map(tuple, events), key=order)


def _reference_run(replay_registry, workdir: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The same two days through ``run_sync`` in this process, and the digests they queue."""
    from trialwatch.digest.service import prepare_digests
    from trialwatch.pipeline import run_sync
    from trialwatch.registry.client import CtgovClient
    from trialwatch.replay.server import ReplayServer
    from trialwatch.store import Store
    from trialwatch.watchlists import load_watchlists

    url = f"sqlite:///{workdir / 'reference.db'}"
    store = Store(url)
    store.upgrade()
    watchlists = load_watchlists(WATCHLISTS).watchlists
    recipients: dict[int, list[str]] = {}
    with ReplayServer(replay_registry, day=1) as server:
        for day in (1, 2):
            server.set_day(day)
            run_sync(store, CtgovClient(server.base_url, min_interval=0), watchlists, batch_size=BATCH_SIZE)
            queued: list[str] = []
            for watchlist in watchlists:
                ids = prepare_digests(
                    store, watchlists, watchlist=watchlist.name, sender="trialwatch@localhost"
                )
                queued += [_recipient_of(store, row_id) for row_id in ids]
            recipients[day] = queued
    store.dispose()
    versions, events = _store_rows(url)
    return {"versions": versions, "events": events, "recipients": recipients}


def _recipient_of(store, row_id: int) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with store.session() as session:
        return session.execute(
            text("SELECT recipient FROM digest_outbox WHERE id = :id"), {"id": row_id}
        ).one()[0]


@pytest.fixture
def redis_broker() -> Iterator[tuple[str, str]]:
    """The broker's Redis database, and a key prefix of this run's own; its keys are deleted after.

    Celery keeps every broker key under the prefix, so another cluster on the same database (a test
    run beside this one, or one killed before it stopped its workers) can neither take this run's
    tasks nor flush them away.
    """
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"the Celery test needs Redis at {REDIS_URL} (TRIALWATCH_TEST_REDIS_URL): {error}")
    prefix = f"trialwatch-test-{uuid.uuid4().hex}:"
    yield REDIS_URL, prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def _trigger_sync(cluster: Cluster) -> str:
    answer = cluster.api(
        "POST", "/api/v2/dags/trialwatch_sync/dagRuns", json={"logical_date": None, "conf": {"force": True}}
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["dag_run_id"]


def _wait_for_run(cluster: Cluster, dag_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        run = cluster.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        if run["state"] in TERMINAL:
            if run["state"] != "success":
                raise AssertionError(
                    f"{dag_id} {run_id} {run['state']}: {_task_states(cluster, dag_id, run_id)}"
                )
            return run
        time.sleep(3)
    raise TimeoutError(f"{dag_id} {run_id} not finished after {RUN_TIMEOUT_S:.0f} s\n{cluster.diagnostics()}")


def _task_instances(cluster: Cluster, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    return cluster.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]


def _task_states(cluster: Cluster, dag_id: str, run_id: str) -> list[tuple[str, int, str, str]]:
    return [
        (ti["task_id"], ti["map_index"], ti["state"], ti["hostname"])
        for ti in _task_instances(cluster, dag_id, run_id)
    ]


def _asset_event_time(cluster: Cluster, sync_run_id: str) -> datetime:
    """When this sync run's asset event (it recorded changes) was written."""
    events = cluster.get("/api/v2/assets/events", source_dag_id="trialwatch_sync", source_run_id=sync_run_id)
    assert events["asset_events"], f"sync run {sync_run_id} emitted no asset event"
    return max(datetime.fromisoformat(event["timestamp"]) for event in events["asset_events"])


def _digest_caught_up(cluster: Cluster, dag_id: str, sync_run_ids: set[str], since: datetime) -> bool:
    """Whether this digest DAG ran on the syncs' asset events, and ran once with all they stored.

    While a digest run waits its turn (one active run at a time), Airflow keeps one queue row per
    asset, stamped with the first event; the run it finally creates consumes the events up to that
    stamp and drops the row, so a later sync's event may trigger no run of its own. That run's
    `prepare` starts after the later event, though, and reads the store, so it sends those changes too.
    """
    triggered = covered = False
    for run in cluster.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]:
        if run["state"] not in TERMINAL:
            continue
        if run["run_type"] == "asset_triggered":
            path = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
            sources = {event["source_run_id"] for event in cluster.get(path)["asset_events"]}
            if sources & sync_run_ids:
                assert run["state"] == "success", _task_states(cluster, dag_id, run["dag_run_id"])
                triggered = True
        if run["end_date"] and datetime.fromisoformat(run["end_date"]) > since:
            prepare = next(
                ti for ti in _task_instances(cluster, dag_id, run["dag_run_id"]) if ti["task_id"] == "prepare"
            )
            if prepare["start_date"] and datetime.fromisoformat(prepare["start_date"]) > since:
                assert run["state"] == "success", _task_states(cluster, dag_id, run["dag_run_id"])
                covered = True
    return triggered and covered


def _wait_for_digests(cluster: Cluster, dag_ids: list[str], sync_run_ids: list[str]) -> None:
    """Until every digest DAG ran on the syncs' asset events and once after the last sync's event.

    A digest task that fails is retried after the DAG's retry delay, up to twice that with Airflow's
    jitter, and the DAG's next run waits for it (one active run at a time): the wait allows for one
    such retry, and names every retried task with the log of its failed try.
    """
    from trialwatch import airflow_glue

    since = _asset_event_time(cluster, sync_run_ids[-1])
    timeout_s = RUN_TIMEOUT_S + 2 * airflow_glue.DIGEST_RETRY_DELAY.total_seconds()
    deadline = time.monotonic() + timeout_s
    waiting = set(dag_ids)
    while waiting and time.monotonic() < deadline:
        waiting -= {d for d in sorted(waiting) if _digest_caught_up(cluster, d, set(sync_run_ids), since)}
        if waiting:
            time.sleep(3)
    retried = _retried_tasks(cluster, dag_ids)
    if retried:
        warnings.warn(f"digest tasks retried:\n{retried}", stacklevel=2)
    if waiting:
        raise TimeoutError(
            f"{sorted(waiting)} did not run after {sync_run_ids[-1]} ({since}) in {timeout_s:.0f} s\n"
            f"{_run_states(cluster, sorted(waiting))}\n{retried}\n{cluster.diagnostics()}"
        )


def _runs_with_tasks(
    cluster: Cluster, dag_ids: list[str]
) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """Every run of these DAGs, with its task instances."""
    for dag_id in dag_ids:
        for run in cluster.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]:
            yield dag_id, run, _task_instances(cluster, dag_id, run["dag_run_id"])


def _run_states(cluster: Cluster, dag_ids: list[str]) -> str:
    """Every run of these DAGs: state, queued and start times, and its tasks' states and tries."""
    lines = []
    for dag_id, run, task_instances in _runs_with_tasks(cluster, dag_ids):
        tasks = [(ti["task_id"], ti["state"], ti["try_number"], ti["hostname"]) for ti in task_instances]
        lines.append(
            f"{dag_id} {run['dag_run_id']} {run['state']} queued {run['queued_at']} "
            f"started {run['start_date']}: {tasks}"
        )
    return "\n".join(lines)


def _retried_tasks(cluster: Cluster, dag_ids: list[str]) -> str:
    """Each digest task that needed more than one try, with the errors of its failed tries' logs."""
    found = []
    for dag_id, run, task_instances in _runs_with_tasks(cluster, dag_ids):
        for ti in task_instances:
            if ti["try_number"] <= 1 and ti["state"] != "up_for_retry":
                continue
            found.append(
                f"{dag_id} {run['dag_run_id']} {ti['task_id']}: {ti['state']}, try {ti['try_number']}"
            )
            for worker in WORKERS:
                logs = cluster.home(worker) / "airflow" / "logs" / f"dag_id={dag_id}"
                for path in sorted(
                    logs.glob(f"run_id={run['dag_run_id']}/task_id={ti['task_id']}/attempt=*.log")
                ):
                    found.append(f"--- {path}\n{_log_errors(path)}")
    return "\n".join(found)


def _log_errors(path: Path) -> str:
    """A task log's error lines (the exception and its frames), or its last lines if it has none."""
    lines = path.read_text(errors="replace").splitlines()
    errors = [line[:4000] for line in lines if re.search(r'"level":\s*"(error|critical)"', line)]
    return "\n".join(errors[-10:] or lines[-40:])


def _worker_log_files(cluster: Cluster, worker: str) -> set[tuple[str, int]]:
    """(run id, map index) of every fetch_batch log file on this worker's own disk."""
    found = set()
    pattern = re.compile(r"run_id=([^/]+)/task_id=fetch_batch/map_index=(\d+)/")
    for path in (cluster.home(worker) / "airflow" / "logs").rglob("*.log"):
        match = pattern.search(path.as_posix())
        if match:
            found.add((match.group(1), int(match.group(2))))
    return found


def test_two_celery_workers_share_the_sync_and_record_each_change_once(  # type: ignore[no-untyped-def]
    tmp_path: Path, pg_server_url: str, redis_broker: tuple[str, str], replay_registry
) -> None:
    from trialwatch.mailsink import MailSink
    from trialwatch.replay.server import ReplayServer
    from trialwatch.watchlists import load_watchlists

    from tests.conftest import throwaway_pg_database

    watchlists = load_watchlists(WATCHLISTS).watchlists
    watched = {nct_id for w in watchlists for nct_id in w.nct_ids}
    expected_batches = math.ceil(len(watched) / BATCH_SIZE)
    assert expected_batches >= 2 * len(WORKERS), "too few batches to show the work shared"
    reference = _reference_run(replay_registry, tmp_path)
    # Day 1 is the baseline for changes, but the registry watchlist's trials already have findings
    # (reported as new once); day 2 brings new versions of the seed trials.
    assert reference["recipients"][2], "day 2 brings new versions of the seed trials"

    with (
        throwaway_pg_database(pg_server_url) as metadata_url,
        throwaway_pg_database(pg_server_url) as store_url,
        ReplayServer(replay_registry, day=1) as registry,
        MailSink(tmp_path / "mail") as sink,
    ):
        (api_port,) = free_ports(1)
        settings = shared_settings(
            metadata_url=metadata_url,
            store_url=store_url,
            broker_url=redis_broker[0],
            broker_key_prefix=redis_broker[1],
            api_port=api_port,
            registry_url=registry.base_url,
            smtp_port=sink.port,
            batch_size=BATCH_SIZE,
        )
        with celery_cluster(tmp_path / "cluster", settings) as cluster:
            ran_on: dict[str, Counter[str]] = {}
            sync_runs = []
            for day in (1, 2):
                registry.set_day(day)
                run_id = _trigger_sync(cluster)
                finished = _wait_for_run(cluster, "trialwatch_sync", run_id)
                sync_runs.append(finished)
                fetches = [
                    t
                    for t in _task_instances(cluster, "trialwatch_sync", run_id)
                    if t["task_id"] == "fetch_batch"
                ]
                assert sorted(t["map_index"] for t in fetches) == list(range(expected_batches))
                assert {t["state"] for t in fetches} == {"success"}
                ran_on[run_id] = Counter(t["hostname"] for t in fetches)
                # Both workers took mapped fetch tasks, in each sync.
                assert set(ran_on[run_id]) == set(WORKERS), ran_on
                # Each worker wrote the logs of exactly the tasks the API says it ran, on its own disk.
                for worker in WORKERS:
                    on_disk = {m for r, m in _worker_log_files(cluster, worker) if r == run_id}
                    assert on_disk == {t["map_index"] for t in fetches if t["hostname"] == worker}

            digest_dags = [f"trialwatch_digest_{w.name}" for w in watchlists]
            _wait_for_digests(cluster, digest_dags, [run["dag_run_id"] for run in sync_runs])

            # The Trial Watch feed answers from the store: the api-server's own home has no feed file.
            feed = cluster.api("GET", "/trialwatch/api/feeds/nk_cell_leukemia.atom")
            assert feed.status_code == 200, feed.text[:300]
            assert "NCT02185781" in feed.text and "NCT04327037" in feed.text
            assert not (cluster.home("api-server") / "trialwatch" / "feeds").exists()

        versions, events = _store_rows(store_url)
        mail = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sink.saved]

    print(f"\nfetch_batch task instances per worker, per sync run: {ran_on}")
    print(
        f"store: {len(versions)} versions, {len(events)} events; {len(mail)} digest(s): {[m['To'] for m in mail]}"
    )
    # Exactly what the in-process run recorded: nothing lost, nothing twice.
    assert len(set(versions)) == len(versions)
    assert versions == reference["versions"]
    assert events == reference["events"]
    assert {v[0] for v in versions} >= watched
    # Every recipient the in-process run wrote to got mail, each message once. When the scheduler
    # starts a digest run after both syncs, the two days' news for a recipient share one digest, so
    # the cluster may send fewer messages than the step-by-step reference, never more.
    expected = reference["recipients"][1] + reference["recipients"][2]
    assert {m["To"] for m in mail} == set(expected)
    assert set(reference["recipients"][2]) <= {m["To"] for m in mail}
    assert len(mail) <= len(expected)
    assert len({m["Message-ID"] for m in mail}) == len(mail)
