"""incremental syncs: a wider sync_runs.scope ("incremental"), and sync_plan_batches, the planned ids
of the running sync in chunks, so the plan does not travel through one XCom

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.alter_column(
            "scope", existing_type=sa.String(10), type_=sa.String(20), existing_server_default="full"
        )
    op.create_table(
        "sync_plan_batches",
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("batch", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("nct_ids", sa.JSON, nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("history_depths", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_plan_batches")
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.alter_column(
            "scope", existing_type=sa.String(20), type_=sa.String(10), existing_server_default="full"
        )
