"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 05:38:50.425737
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("watchlist", sa.String(length=100), nullable=False),
        sa.Column("period_key", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("first_event_id", sa.Integer(), nullable=True),
        sa.Column("last_event_id", sa.Integer(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("watchlist", "period_key", "recipient", name="uq_digest_outbox_key"),
    )
    with op.batch_alter_table("digest_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_outbox_status"), ["status"], unique=False)

    op.create_table(
        "studies",
        sa.Column("nct_id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("overall_status", sa.String(length=40), nullable=True),
        sa.Column("enrollment_count", sa.Integer(), nullable=True),
        sa.Column("enrollment_type", sa.String(length=20), nullable=True),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column("current_hash", sa.String(length=64), nullable=True),
        sa.Column("registry_version", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_change_severity", sa.String(length=10), nullable=True),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alias_of", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("nct_id"),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studies_last_changed_at"), ["last_changed_at"], unique=False)
        batch_op.create_index("ix_studies_title", ["title"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("data_timestamp", sa.String(length=19), nullable=True),
        sa.Column("studies_requested", sa.Integer(), nullable=False),
        sa.Column("studies_fetched", sa.Integer(), nullable=False),
        sa.Column("versions_added", sa.Integer(), nullable=False),
        sa.Column("events_added", sa.Integer(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_runs_started_at"), ["started_at"], unique=False)

    op.create_table(
        "watchlist_trials",
        sa.Column("watchlist", sa.String(length=100), nullable=False),
        sa.Column("nct_id", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("watchlist", "nct_id"),
    )
    with op.batch_alter_table("watchlist_trials", schema=None) as batch_op:
        batch_op.create_index("ix_watchlist_trials_nct", ["nct_id"], unique=False)

    op.create_table(
        "study_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nct_id", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("registry_version", sa.Integer(), nullable=True),
        sa.Column("registry_version_date", sa.String(length=10), nullable=True),
        sa.Column("data_timestamp", sa.String(length=19), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("raw_json", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["nct_id"],
            ["studies.nct_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("study_versions", schema=None) as batch_op:
        batch_op.create_index("ix_study_versions_nct_hash", ["nct_id", "content_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_study_versions_nct_id"), ["nct_id"], unique=False)

    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nct_id", sa.String(length=16), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("old_version", sa.Integer(), nullable=True),
        sa.Column("new_version", sa.Integer(), nullable=True),
        sa.Column("old_version_date", sa.String(length=10), nullable=True),
        sa.Column("new_version_date", sa.String(length=10), nullable=True),
        sa.Column("old_hash", sa.String(length=64), nullable=True),
        sa.Column("new_hash", sa.String(length=64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("backfill", sa.Boolean(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["nct_id"],
            ["studies.nct_id"],
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["study_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("change_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_events_detected_at"), ["detected_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_events_nct_id"), ["nct_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_events_severity"), ["severity"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("change_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_events_severity"))
        batch_op.drop_index(batch_op.f("ix_change_events_nct_id"))
        batch_op.drop_index(batch_op.f("ix_change_events_detected_at"))

    op.drop_table("change_events")
    with op.batch_alter_table("study_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_versions_nct_id"))
        batch_op.drop_index("ix_study_versions_nct_hash")

    op.drop_table("study_versions")
    with op.batch_alter_table("watchlist_trials", schema=None) as batch_op:
        batch_op.drop_index("ix_watchlist_trials_nct")

    op.drop_table("watchlist_trials")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_runs_started_at"))

    op.drop_table("sync_runs")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index("ix_studies_title")
        batch_op.drop_index(batch_op.f("ix_studies_last_changed_at"))

    op.drop_table("studies")
    with op.batch_alter_table("digest_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_outbox_status"))

    op.drop_table("digest_outbox")
