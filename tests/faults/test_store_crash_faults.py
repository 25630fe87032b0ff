"""A sync killed with SIGKILL in the middle of a write, and a disk that fills up: nothing half-written stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from trialwatch.pipeline import SyncBusy, run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayServer
from trialwatch.store import Store
from trialwatch.store.errors import StoreError
from trialwatch.store.models import ChangeEventRow, Study, StudyVersion, SyncLease
from trialwatch.watchlists import load_watchlists

REPO = Path(__file__).resolve().parents[2]

# The child runs the day-2 sync; right after the first batch's versions and events are flushed to the
# database, inside the open transaction, it says so and waits to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from trialwatch.pipeline import run_sync
    from trialwatch.registry.client import CtgovClient
    from trialwatch.store import Store, repository
    from trialwatch.watchlists import load_watchlists

    original = repository.store_versions

    def store_then_hang(session, *args, **kwargs):
        result = original(session, *args, **kwargs)
        session.flush()
        print("mid-write", flush=True)
        time.sleep(600)
        return result

    repository.store_versions = store_then_hang
    client = CtgovClient(sys.argv[2], min_interval=0, max_retries=1, backoff_base=0)
    run_sync(Store(sys.argv[1]), client, load_watchlists().watchlists)
    """
)


def _client(replay: ReplayServer) -> CtgovClient:
    return CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)


def _counts(store: Store) -> tuple[int, int, int]:
    with store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Study)) or 0,
            session.scalar(select(func.count()).select_from(StudyVersion)) or 0,
            session.scalar(select(func.count()).select_from(ChangeEventRow)) or 0,
        )


def _uninterrupted_counts(tmp_path: Path, replay: ReplayServer) -> tuple[int, int, int]:
    """Counts after day 1 and day 2 synced without any fault, in a separate store."""
    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.upgrade()
    watchlists = load_watchlists().watchlists
    replay.set_day(1)
    run_sync(reference, _client(replay), watchlists)
    replay.set_day(2)
    run_sync(reference, _client(replay), watchlists)
    counts = _counts(reference)
    reference.dispose()
    return counts


def _kill_mid_write(store_url: str, replay: ReplayServer) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "include"), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url, replay.base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        if child.stdout.readline().strip() != "mid-write":
            child.wait(timeout=60)
            pytest.fail(f"the child sync never reached the write:\n{child.stderr.read()}")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_in_the_middle_of_a_write_leaves_no_partial_rows_and_a_rerun_completes(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    replay: ReplayServer,
    time_machine: Any,
) -> None:
    expected = _uninterrupted_counts(tmp_path, replay)
    store: Store = request.getfixturevalue("store" if backend == "sqlite" else "pg_store")
    watchlists = load_watchlists().watchlists
    replay.set_day(1)
    run_sync(store, _client(replay), watchlists)
    after_day_one = _counts(store)
    assert after_day_one[1] < expected[1]  # day 2 has new versions to write

    replay.set_day(2)
    _kill_mid_write(store.url, replay)
    assert _counts(store) == after_day_one
    if backend == "sqlite":
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"

    # The killed sync still holds the store's sync lease: a rerun before it expires is refused and
    # stores nothing; after, the rerun takes it over, closes the dead run and completes. The times are
    # read from the lease row: the killed child wrote it with its own clock.
    with store.engine.connect() as conn:
        expires_at = conn.execute(select(SyncLease.expires_at)).scalar_one()
    expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    time_machine.move_to(expires_at - timedelta(minutes=1), tick=False)
    with pytest.raises(SyncBusy, match="holds the store's sync lease"):
        run_sync(store, _client(replay), watchlists)
    assert _counts(store) == after_day_one
    time_machine.move_to(expires_at + timedelta(minutes=1), tick=True)
    run_sync(store, _client(replay), watchlists)
    assert _counts(store) == expected


def test_a_full_disk_fails_the_write_keeps_what_was_stored_and_a_rerun_completes(
    store: Store, tmp_path: Path, replay: ReplayServer
) -> None:
    expected = _uninterrupted_counts(tmp_path, replay)
    watchlists = load_watchlists().watchlists
    replay.set_day(1)
    run_sync(store, _client(replay), watchlists)
    after_day_one = _counts(store)

    # SQLite's max_page_count makes the file "full" at its current size: the next growing write fails
    # with SQLITE_FULL, exactly as on a full disk.
    def cap_size(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(store.engine, "connect", cap_size)
    store.engine.dispose()
    replay.set_day(2)
    # The store itself failed: the run stops there with the store's error instead of claiming success.
    with pytest.raises(StoreError, match="database or disk is full"):
        run_sync(store, _client(replay), watchlists)
    event.remove(store.engine, "connect", cap_size)
    store.engine.dispose()

    assert _counts(store) == after_day_one
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    run_sync(store, _client(replay), watchlists)
    assert _counts(store) == expected
