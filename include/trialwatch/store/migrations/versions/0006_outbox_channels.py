"""digest outbox: a channel column, so webhook, Slack and Teams messages share the outbox with email

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_outbox") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(10), nullable=False, server_default="email"))


def downgrade() -> None:
    with op.batch_alter_table("digest_outbox") as batch_op:
        batch_op.drop_column("channel")
