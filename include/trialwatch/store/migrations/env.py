"""Alembic environment: runs on the connection the Store hands over (see Store.upgrade)."""

from __future__ import annotations

from alembic import context
from trialwatch.store.models import Base

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
)
with context.begin_transaction():
    context.run_migrations()
