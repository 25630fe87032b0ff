"""watchlist_trials: an index on (nct_id, left_at, watchlist) in place of the one on nct_id alone

A trial's current memberships (left_at unset) and their watchlists are then read from the index
alone: the overview's pages by number probe it once per row they skip, and the open-findings count
once per flagged trial, instead of reading the members' rows.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_watchlist_trials_nct_current", "watchlist_trials", ["nct_id", "left_at", "watchlist"])
    op.drop_index("ix_watchlist_trials_nct", table_name="watchlist_trials")


def downgrade() -> None:
    op.create_index("ix_watchlist_trials_nct", "watchlist_trials", ["nct_id"])
    op.drop_index("ix_watchlist_trials_nct_current", table_name="watchlist_trials")
