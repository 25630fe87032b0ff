"""study_versions: drop the indexes on (nct_id) and (nct_id, content_hash)

Both are leading columns of the unique index on (nct_id, content_hash, version_key), which serves
every lookup they served, so each new version updated three B-trees where one does. On a first sync
that stores every trial, two fewer index inserts per trial.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_study_versions_nct_hash", table_name="study_versions")
    op.drop_index("ix_study_versions_nct_id", table_name="study_versions")


def downgrade() -> None:
    op.create_index("ix_study_versions_nct_id", "study_versions", ["nct_id"])
    op.create_index("ix_study_versions_nct_hash", "study_versions", ["nct_id", "content_hash"])
