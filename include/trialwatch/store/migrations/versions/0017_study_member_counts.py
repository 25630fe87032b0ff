"""studies.current_members: each trial's current watchlist memberships, in every overview sort index

A page by number over several watchlists skips rows, and a trial is one row per current
membership: with the count in the sort index, skipping is a walk of that index alone (a running
sum) instead of a probe of the members' index per skipped trial. Triggers keep the count on every
write to watchlist_trials, and set it when a study is inserted after its memberships.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SORT_INDEXES = {
    "ix_studies_title_nct": ["title", "nct_id"],
    "ix_studies_last_posted_nct": ["last_posted", "last_changed_at", "nct_id"],
    "ix_studies_last_changed_nct": ["last_changed_at", "nct_id"],
    "ix_studies_status_nct": ["overall_status", "nct_id"],
    "ix_studies_enrollment_nct": ["enrollment_count", "nct_id"],
    "ix_studies_severity_nct": ["last_change_severity", "last_changed_at", "nct_id"],
}

# PostgreSQL once per statement (the daily sync rewrites every membership: only real changes of
# left_at or nct_id move a count); SQLite once per row, only when the row's membership changes.
PG_TRIGGERS = [
    """
    CREATE FUNCTION trialwatch_study_members() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        UPDATE studies AS s SET current_members = s.current_members + d.n
        FROM (SELECT nct_id, count(*) AS n FROM new_rows WHERE left_at IS NULL GROUP BY nct_id) AS d
        WHERE s.nct_id = d.nct_id;
      ELSIF TG_OP = 'DELETE' THEN
        UPDATE studies AS s SET current_members = s.current_members - d.n
        FROM (SELECT nct_id, count(*) AS n FROM old_rows WHERE left_at IS NULL GROUP BY nct_id) AS d
        WHERE s.nct_id = d.nct_id;
      ELSE
        UPDATE studies AS s SET current_members = s.current_members + d.n
        FROM (
          SELECT nct_id, sum(n) AS n FROM (
            SELECT nct_id, -1 AS n FROM old_rows WHERE left_at IS NULL
            UNION ALL SELECT nct_id, 1 FROM new_rows WHERE left_at IS NULL
          ) AS moved GROUP BY nct_id HAVING sum(n) <> 0
        ) AS d
        WHERE s.nct_id = d.nct_id;
      END IF;
      RETURN NULL;
    END $$
    """,
    (
        "CREATE TRIGGER trg_study_members_insert AFTER INSERT ON watchlist_trials REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION trialwatch_study_members()"
    ),
    (
        "CREATE TRIGGER trg_study_members_update AFTER UPDATE ON watchlist_trials"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION trialwatch_study_members()"
    ),
    (
        "CREATE TRIGGER trg_study_members_delete AFTER DELETE ON watchlist_trials REFERENCING OLD TABLE AS old_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION trialwatch_study_members()"
    ),
    """
    CREATE FUNCTION trialwatch_new_study_members() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.current_members := (
        SELECT count(*) FROM watchlist_trials WHERE nct_id = NEW.nct_id AND left_at IS NULL
      );
      RETURN NEW;
    END $$
    """,
    (
        "CREATE TRIGGER trg_study_members_new BEFORE INSERT ON studies"
        " FOR EACH ROW EXECUTE FUNCTION trialwatch_new_study_members()"
    ),
]
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER trg_study_members_insert AFTER INSERT ON watchlist_trials WHEN NEW.left_at IS NULL
    BEGIN
      UPDATE studies SET current_members = current_members + 1 WHERE nct_id = NEW.nct_id;
    END
    """,
    """
    CREATE TRIGGER trg_study_members_delete AFTER DELETE ON watchlist_trials WHEN OLD.left_at IS NULL
    BEGIN
      UPDATE studies SET current_members = current_members - 1 WHERE nct_id = OLD.nct_id;
    END
    """,
    """
    CREATE TRIGGER trg_study_members_update AFTER UPDATE OF nct_id, left_at ON watchlist_trials
    WHEN OLD.nct_id IS NOT NEW.nct_id OR (OLD.left_at IS NULL) IS NOT (NEW.left_at IS NULL)
    BEGIN
      UPDATE studies SET current_members = current_members - 1 WHERE nct_id = OLD.nct_id AND OLD.left_at IS NULL;
      UPDATE studies SET current_members = current_members + 1 WHERE nct_id = NEW.nct_id AND NEW.left_at IS NULL;
    END
    """,
    """
    CREATE TRIGGER trg_study_members_new AFTER INSERT ON studies
    WHEN EXISTS (SELECT 1 FROM watchlist_trials WHERE nct_id = NEW.nct_id AND left_at IS NULL)
    BEGIN
      UPDATE studies SET current_members = (
        SELECT count(*) FROM watchlist_trials WHERE nct_id = NEW.nct_id AND left_at IS NULL
      ) WHERE nct_id = NEW.nct_id;
    END
    """,
]
DROP_TRIGGERS = {
    "postgresql": [
        *(
            f"DROP TRIGGER IF EXISTS trg_study_members_{op_} ON watchlist_trials"
            for op_ in ("insert", "update", "delete")
        ),
        "DROP TRIGGER IF EXISTS trg_study_members_new ON studies",
        "DROP FUNCTION IF EXISTS trialwatch_study_members()",
        "DROP FUNCTION IF EXISTS trialwatch_new_study_members()",
    ],
    "sqlite": [
        f"DROP TRIGGER IF EXISTS trg_study_members_{op_}" for op_ in ("insert", "update", "delete", "new")
    ],
}


def upgrade() -> None:
    # Plain ADD/DROP COLUMN: SQLite changes the table in place (a rebuild would trip the foreign keys).
    op.add_column("studies", sa.Column("current_members", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE studies SET current_members = (SELECT count(*) FROM watchlist_trials AS m"
        " WHERE m.nct_id = studies.nct_id AND m.left_at IS NULL)"
        " WHERE nct_id IN (SELECT nct_id FROM watchlist_trials WHERE left_at IS NULL)"
    )
    for name, columns in SORT_INDEXES.items():
        op.drop_index(name, table_name="studies")
        op.create_index(name, "studies", [*columns, "current_members"])
    for statement in PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    for name, columns in SORT_INDEXES.items():
        op.drop_index(name, table_name="studies")
        op.create_index(name, "studies", columns)
    op.execute("ALTER TABLE studies DROP COLUMN current_members")
