"""backfill_queue: newly watched trials whose history is fetched later; study_versions.backfill

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_queue",
        sa.Column("nct_id", sa.String(16), primary_key=True),
        sa.Column("anchor_version_id", sa.Integer, nullable=False),
        sa.Column("depth", sa.Integer),
        sa.Column("posted", sa.String(10)),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dates", sa.JSON),
        sa.Column("next_version", sa.Integer),
        sa.Column("stop_version", sa.Integer),
        sa.Column("newer_version_id", sa.Integer),
        sa.Column("fetched", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_backfill_queue_pending", "backfill_queue", ["done_at", "posted"])
    # A plain ADD COLUMN: SQLite adds it in place (rebuilding the table would trip change_events' key).
    op.add_column(
        "study_versions", sa.Column("backfill", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    # A plain DROP COLUMN, for the same reason: SQLite drops it in place.
    op.execute("ALTER TABLE study_versions DROP COLUMN backfill")
    op.drop_index("ix_backfill_queue_pending", table_name="backfill_queue")
    op.drop_table("backfill_queue")
