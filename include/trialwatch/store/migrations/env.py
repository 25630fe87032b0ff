"""Alembic environment: runs on the connection the Store hands over (see Store.upgrade).

Every migration of one upgrade runs in a single transaction that first takes the store's migration
lock, so two processes that upgrade at once (a digest and a sync on a fresh store) run one after the
other: the second reads the version the first committed and has nothing left to do.
"""

from __future__ import annotations

import logging

from alembic import context
from sqlalchemy import text
from trialwatch.store.models import Base

log = logging.getLogger("trialwatch.store.migrations")
# The PostgreSQL advisory lock that serialises upgrades of one store (any fixed 64-bit key); a
# transaction-level lock, so it holds through PgBouncer's transaction pooling too.
MIGRATION_LOCK_KEY = 0x7472_6961_6C77_6174  # "trialwat"

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    from trialwatch import settings
    from trialwatch.store.db import create_store_engine

    connection = create_store_engine(settings.store_url()).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # SQLite's DDL is transactional too: one transaction, opened with BEGIN IMMEDIATE (the store's
    # engine does that), holds the write lock from reading the version to committing the last step.
    transactional_ddl=True,
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        key = {"key": MIGRATION_LOCK_KEY}
        if not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar():
            log.info("another process is upgrading the store's schema: waiting for it")
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
    context.run_migrations()
