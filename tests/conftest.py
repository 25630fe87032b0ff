"""Shared fixtures. Airflow reads its settings at import, so the environment is set before anything imports it."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "include" / "trialwatch" / "replay" / "data" / "samples"
_CLOCK_TRAVELLER = pytest.StashKey[Any]()

_HOME = Path(tempfile.mkdtemp(prefix="trialwatch-tests-"))
os.environ["AIRFLOW_HOME"] = str(_HOME / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow' / 'airflow.db'}"
os.environ["TRIALWATCH_HOME"] = str(_HOME / "trialwatch")
os.environ.pop("TRIALWATCH_STORE_URL", None)
os.environ.pop("TRIALWATCH_WATCHLISTS", None)

CLOCK_SHIFT_ENV = "TRIALWATCH_TEST_CLOCK_SHIFT_DAYS"


def pytest_configure(config: pytest.Config) -> None:
    """With TRIALWATCH_TEST_CLOCK_SHIFT_DAYS=N the whole session runs N days ahead (`make test-clock`).

    A test that passes today but not next year reads the real date somewhere; running the suite shifted
    proves none does. The clock keeps ticking, and tests that pin their own time with the
    ``time_machine`` fixture travel from the shifted clock as usual. Subprocesses keep the real clock.
    """
    raw = os.environ.get(CLOCK_SHIFT_ENV, "").strip()
    if not raw:
        return
    try:
        days = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{CLOCK_SHIFT_ENV} must be a whole number of days, got {raw!r}") from None
    import time_machine

    traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
    traveller.start()
    config.stash[_CLOCK_TRAVELLER] = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_CLOCK_TRAVELLER, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    if _CLOCK_TRAVELLER in config.stash:
        return f"clock shifted {os.environ[CLOCK_SHIFT_ENV].strip()} days ahead ({CLOCK_SHIFT_ENV})"
    return None


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(sqlite_url: str):  # type: ignore[no-untyped-def]
    """A fresh, migrated SQLite store."""
    from trialwatch.store import Store

    instance = Store(sqlite_url)
    instance.upgrade()
    yield instance
    instance.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get("TRIALWATCH_TEST_PG_URL")
    if not url:
        pytest.fail(
            "PostgreSQL tests need TRIALWATCH_TEST_PG_URL (make test sets it to the local server); "
            "deselect them with -m 'not postgres' if you have no server"
        )
    return url


@contextmanager
def throwaway_pg_database(server_url: str) -> Iterator[str]:
    """URL of a new database on the test PostgreSQL server, dropped on exit."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"trialwatch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A throwaway database on the test PostgreSQL server, dropped afterwards."""
    with throwaway_pg_database(pg_server_url) as url:
        yield url


@pytest.fixture
def pg_store(pg_url: str):  # type: ignore[no-untyped-def]
    """A fresh, migrated store on PostgreSQL."""
    from trialwatch.store import Store

    instance = Store(pg_url)
    instance.upgrade()
    yield instance
    instance.dispose()


@pytest.fixture(scope="session")
def replay_registry():  # type: ignore[no-untyped-def]
    """The recorded registry, loaded once."""
    from trialwatch.replay.server import ReplayRegistry

    return ReplayRegistry()


@pytest.fixture
def replay(replay_registry):  # type: ignore[no-untyped-def]
    """A fresh replay server on a loopback port (day 1, no faults, empty request log) per test."""
    from trialwatch.replay.server import ReplayServer

    with ReplayServer(replay_registry, day=1) as server:
        yield server
