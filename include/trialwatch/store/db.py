"""Engine, sessions and schema upgrades for the snapshot store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from trialwatch import settings
from trialwatch.store import title_index

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Long enough for mapped tasks that commit at once to queue behind each other instead of failing
# with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 60_000
# A writing connection's page cache, at most (see _cache_for_writes).
SQLITE_CACHE_KIB = 32 * 1024


def _tune_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Statement journals and sorts in memory, not temporary files: a first sync's executemany of
    # inserts otherwise makes about 24 temp-file writes per trial (strace: 355k pwrite64 calls at
    # 10,000 trials, 114k with this; a fifth less system CPU at 40,000).
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _cache_for_writes(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # A page cache of up to 32 MiB (SQLite's default is 2 MiB), filled only as pages are read: with
    # 100,000 trials the sort indexes of `studies` are tens of MB, and each new trial inserts into
    # every one of them at a random place (day 1 at 100,000 trials: 3-5% less CPU, 36 MB more RSS).
    # Readers (the UI, many pooled connections) keep the default.
    dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def _begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
    # Take the write lock at BEGIN, so two writers wait on busy_timeout instead of one failing
    # when it upgrades a read lock (SQLite cannot wait in that case).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn) -> None:  # type: ignore[no-untyped-def]
    # Readers (the UI) take no write lock: under WAL they never wait for a sync that is writing.
    conn.exec_driver_sql("BEGIN")


def create_store_engine(url: str, *, readonly: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None},
        )
        event.listen(engine, "connect", _tune_sqlite)
        if not readonly:
            event.listen(engine, "connect", _cache_for_writes)
        event.listen(engine, "begin", _begin_deferred if readonly else _begin_immediate)
        return engine
    if parsed.get_driver_name() == "psycopg2":
        # An executemany of UPDATEs (a batch's unchanged records, findings) is then sent in pages
        # (psycopg2's execute_batch), not one round trip per row.
        return create_engine(url, pool_pre_ping=True, executemany_mode="values_plus_batch")
    return create_engine(url, pool_pre_ping=True)


def alembic_config() -> Config:
    """Alembic's configuration for the store's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


class Store:
    """The trialwatch store at one URL: a SQLite file by default, PostgreSQL in production."""

    def __init__(self, url: str | None = None, *, readonly: bool = False) -> None:
        """``readonly``: for code that only reads (the UI); on SQLite its sessions take no write lock."""
        self.url = url or settings.store_url()
        self.engine = create_store_engine(self.url, readonly=readonly)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readonly = readonly
        self._forget_schema()
        event.listen(self._sessions, "before_commit", self._catch_up)

    def _forget_schema(self) -> None:
        # Whether commits must bring SQLite's title index up to date; None: ask the schema first.
        self._title_index: bool | None = None
        if self._readonly or self.engine.dialect.name != "sqlite":
            self._title_index = False

    def _catch_up(self, session: Session) -> None:
        """Before every commit of a store session: SQLite's title index takes in the titles written."""
        if self._title_index is False:
            return
        if self._title_index is None:
            self._title_index = title_index.exists(session)
        if self._title_index:
            title_index.catch_up(session)

    def __repr__(self) -> str:
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision``, the newest Alembic revision by default (idempotent)."""
        self._migrate("upgrade", revision)
        self._forget_schema()
        if revision == "head":
            log.info("store %s is at the newest schema", self)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` (each migration says what its downgrade loses)."""
        self._migrate("downgrade", revision)
        self._forget_schema()

    def _migrate(self, direction: str, revision: str) -> None:
        from alembic import command

        config = alembic_config()
        with self.engine.connect() as connection:
            config.attributes["connection"] = connection
            getattr(command, direction)(config, revision)
            connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()
