"""studies.findings_due: the first date on which a trial's findings could change

A daily sync evaluates only the trials that changed, joined a watchlist, or reached that date,
instead of every watched trial on every new data build. NULL: not evaluated yet.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("studies", sa.Column("findings_due", sa.String(10), nullable=True))
    op.create_index("ix_studies_findings_due", "studies", ["findings_due"])


def downgrade() -> None:
    op.drop_index("ix_studies_findings_due", table_name="studies")
    # in place: a batch rebuild of studies on SQLite would trip the foreign keys that point at it
    op.execute("ALTER TABLE studies DROP COLUMN findings_due")
