"""findings: what is wrong with each watched record, opened and resolved by sync runs; the digest's
findings cursor

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("nct_id", sa.String(16), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("certainty", sa.String(10), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("opened_run_id", sa.Integer, nullable=False),
        sa.Column("resolved_run_id", sa.Integer),
        # One open row per key: a finding that comes back after it was resolved gets a new row.
        sa.Column("open_key", sa.String(200)),
    )
    op.create_index("ix_findings_nct", "findings", ["nct_id"])
    op.create_index("ix_findings_opened_run", "findings", ["opened_run_id"])
    op.create_index("ix_findings_resolved_run", "findings", ["resolved_run_id"])
    op.create_index("uq_findings_open_key", "findings", ["open_key"], unique=True)
    with op.batch_alter_table("digest_outbox") as batch_op:
        batch_op.add_column(sa.Column("last_finding_run_id", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("digest_outbox") as batch_op:
        batch_op.drop_column("last_finding_run_id")
    op.drop_table("findings")
