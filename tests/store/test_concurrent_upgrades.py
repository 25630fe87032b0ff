"""Processes that upgrade one fresh store at once all succeed: the first migrates, the others wait.

On a fresh deployment the first digest run (hourly) and the first sync can start together, and each
upgrades the store before it reads it. Without the migration lock, PostgreSQL failed every such race
(`duplicate key value violates unique constraint "pg_type_typname_nsp_index"` on alembic_version).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from trialwatch.store import Store

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 4
# Imports first, then waits for the word to upgrade, so every process starts its upgrade together.
CHILD = """
import sys
from trialwatch.store import Store
store = Store(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
store.upgrade()
print("upgraded", flush=True)
"""


def _upgrade_at_once(url: str) -> list[tuple[int, str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "include"), os.environ.get("PYTHONPATH", "")]),
    }
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready", child.communicate(timeout=60)[1]
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            out, err = child.communicate(timeout=180)
            results.append((child.returncode, out.strip(), err))
        return results
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()


def _head() -> str:
    from alembic.script import ScriptDirectory
    from trialwatch.store.db import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _assert_all_upgraded(url: str) -> None:
    results = _upgrade_at_once(url)
    failed = [err for code, _, err in results if code != 0]
    assert not failed, failed[0]
    assert [out for _, out, _ in results] == ["upgraded"] * PROCESSES
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert versions == [_head()]
    finally:
        store.dispose()


def test_processes_upgrading_a_fresh_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    _assert_all_upgraded(f"sqlite:///{tmp_path / 'trialwatch.db'}")


@pytest.mark.postgres
def test_processes_upgrading_a_fresh_postgres_store_at_once_all_succeed(pg_url: str) -> None:
    _assert_all_upgraded(pg_url)
