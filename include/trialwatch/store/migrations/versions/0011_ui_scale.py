"""Trial Watch at registry scale: studies.last_posted, one index per overview sort, events by version,
current members per watchlist, and a trigram index on titles where PostgreSQL has pg_trgm

``last_posted`` is the registry's posting date of the current version, copied from it here once; the
sync keeps it from then on. With it every overview sort is an index walk instead of a join and a sort
of every watched trial.

Revision ID: 0011
Revises: 0008
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

STUDY_INDEXES = {
    "ix_studies_title_nct": ["title", "nct_id"],
    "ix_studies_last_posted_nct": ["last_posted", "last_changed_at", "nct_id"],
    "ix_studies_last_changed_nct": ["last_changed_at", "nct_id"],
    "ix_studies_status_nct": ["overall_status", "nct_id"],
    "ix_studies_enrollment_nct": ["enrollment_count", "nct_id"],
    "ix_studies_severity_nct": ["last_change_severity", "last_changed_at", "nct_id"],
}
TRIGRAM_INDEX = "ix_studies_title_trgm"


def _backfill_last_posted() -> None:
    studies = sa.table("studies", sa.column("current_version_id", sa.Integer), sa.column("last_posted"))
    versions = sa.table(
        "study_versions",
        sa.column("id", sa.Integer),
        sa.column("registry_version_date", sa.String),
        sa.column("raw_json", sa.JSON),
    )
    record_date = versions.c.raw_json[
        ("protocolSection", "statusModule", "lastUpdatePostDateStruct", "date")
    ].as_string()
    posted = (
        sa.select(sa.func.substr(sa.func.coalesce(versions.c.registry_version_date, record_date), 1, 10))
        .where(versions.c.id == studies.c.current_version_id)
        .scalar_subquery()
    )
    op.execute(studies.update().where(studies.c.current_version_id.is_not(None)).values(last_posted=posted))


def _trigram_index() -> None:
    """A GIN trigram index for title search, if the server has pg_trgm and we may enable it."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        # Search still works without it: a title scan that stops at the first page of matches.
        log.warning("pg_trgm is not available (%s); title search runs without a trigram index", error.orig)
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON studies USING gin (title gin_trgm_ops)")


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch_op:
        batch_op.add_column(sa.Column("last_posted", sa.String(10), nullable=True))
    _backfill_last_posted()
    op.drop_index("ix_studies_title", table_name="studies")
    op.drop_index("ix_studies_last_changed_at", table_name="studies")
    for name, columns in STUDY_INDEXES.items():
        op.create_index(name, "studies", columns)
    op.create_index("ix_change_events_version", "change_events", ["version_id", "id"])
    op.create_index(
        "ix_watchlist_trials_current",
        "watchlist_trials",
        ["watchlist"],
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _trigram_index()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    op.drop_index("ix_watchlist_trials_current", table_name="watchlist_trials")
    op.drop_index("ix_change_events_version", table_name="change_events")
    for name in STUDY_INDEXES:
        op.drop_index(name, table_name="studies")
    op.create_index("ix_studies_last_changed_at", "studies", ["last_changed_at"])
    op.create_index("ix_studies_title", "studies", ["title"])
    with op.batch_alter_table("studies") as batch_op:
        batch_op.drop_column("last_posted")
