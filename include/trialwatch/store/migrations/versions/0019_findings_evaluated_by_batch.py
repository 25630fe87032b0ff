"""studies.findings_run_id, findings_version_id: a new trial's findings evaluated in its batch

A sync batch evaluates a new trial's findings from the record it has just stored, as of its run's
date, instead of the run's findings step reading the record back. The two columns say which run and
which version that was, so that step skips exactly those trials. NULL: never evaluated by a batch.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("studies", sa.Column("findings_run_id", sa.Integer(), nullable=True))
    op.add_column("studies", sa.Column("findings_version_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # in place: a batch rebuild of studies on SQLite would trip the foreign keys that point at it
    op.execute("ALTER TABLE studies DROP COLUMN findings_version_id")
    op.execute("ALTER TABLE studies DROP COLUMN findings_run_id")
