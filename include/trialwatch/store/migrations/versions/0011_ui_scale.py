"""Trial Watch at registry scale: studies.last_posted, one index per overview sort, events by version,
counts of current members kept per watchlist, and a trigram index on titles where PostgreSQL has pg_trgm

``last_posted`` is the registry's posting date of the current version, copied from it here once; the
sync keeps it from then on. With it every overview sort is an index walk instead of a join and a sort
of every watched trial.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

STUDY_INDEXES = {
    "ix_studies_title_nct": ["title", "nct_id"],
    "ix_studies_last_posted_nct": ["last_posted", "last_changed_at", "nct_id"],
    "ix_studies_last_changed_nct": ["last_changed_at", "nct_id"],
    "ix_studies_status_nct": ["overall_status", "nct_id"],
    "ix_studies_enrollment_nct": ["enrollment_count", "nct_id"],
    "ix_studies_severity_nct": ["last_change_severity", "last_changed_at", "nct_id"],
}
TRIGRAM_INDEX = "ix_studies_title_trgm"


def _backfill_last_posted() -> None:
    studies = sa.table("studies", sa.column("current_version_id", sa.Integer), sa.column("last_posted"))
    versions = sa.table(
        "study_versions",
        sa.column("id", sa.Integer),
        sa.column("registry_version_date", sa.String),
        sa.column("posted", sa.String),  # the record's own posting date (0009)
    )
    posted = (
        sa.select(
            sa.func.substr(sa.func.coalesce(versions.c.registry_version_date, versions.c.posted), 1, 10)
        )
        .where(versions.c.id == studies.c.current_version_id)
        .scalar_subquery()
    )
    op.execute(studies.update().where(studies.c.current_version_id.is_not(None)).values(last_posted=posted))


def _trigram_index() -> None:
    """A GIN trigram index for title search, if the server has pg_trgm and we may enable it."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        # Search still works without it: a title scan that stops at the first page of matches.
        log.warning("pg_trgm is not available (%s); title search runs without a trigram index", error.orig)
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON studies USING gin (title gin_trgm_ops)")


# Each watchlist's current members (left_at unset), kept by the database on every write to
# watchlist_trials, whoever writes: PostgreSQL once per statement, SQLite once per row.
PG_COUNTS = [
    """
    CREATE FUNCTION trialwatch_member_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE watchlist_member_counts AS c SET trials = c.trials - d.n
        FROM (SELECT watchlist, count(*) AS n FROM old_rows WHERE left_at IS NULL GROUP BY watchlist) AS d
        WHERE c.watchlist = d.watchlist;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO watchlist_member_counts (watchlist, trials)
        SELECT watchlist, count(*) FROM new_rows WHERE left_at IS NULL GROUP BY watchlist
        ON CONFLICT (watchlist) DO UPDATE SET trials = watchlist_member_counts.trials + EXCLUDED.trials;
      END IF;
      RETURN NULL;
    END $$
    """,
    (
        "CREATE TRIGGER trg_member_counts_insert AFTER INSERT ON watchlist_trials REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION trialwatch_member_counts()"
    ),
    (
        "CREATE TRIGGER trg_member_counts_update AFTER UPDATE ON watchlist_trials"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION trialwatch_member_counts()"
    ),
    (
        "CREATE TRIGGER trg_member_counts_delete AFTER DELETE ON watchlist_trials REFERENCING OLD TABLE AS old_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION trialwatch_member_counts()"
    ),
]
SQLITE_COUNTS = [
    """
    CREATE TRIGGER trg_member_counts_insert AFTER INSERT ON watchlist_trials WHEN NEW.left_at IS NULL
    BEGIN
      INSERT INTO watchlist_member_counts (watchlist, trials) VALUES (NEW.watchlist, 1)
      ON CONFLICT (watchlist) DO UPDATE SET trials = trials + 1;
    END
    """,
    """
    CREATE TRIGGER trg_member_counts_delete AFTER DELETE ON watchlist_trials WHEN OLD.left_at IS NULL
    BEGIN
      UPDATE watchlist_member_counts SET trials = trials - 1 WHERE watchlist = OLD.watchlist;
    END
    """,
    """
    CREATE TRIGGER trg_member_counts_update AFTER UPDATE OF watchlist, left_at ON watchlist_trials
    BEGIN
      UPDATE watchlist_member_counts SET trials = trials - 1
      WHERE watchlist = OLD.watchlist AND OLD.left_at IS NULL;
      INSERT INTO watchlist_member_counts (watchlist, trials) SELECT NEW.watchlist, 1 WHERE NEW.left_at IS NULL
      ON CONFLICT (watchlist) DO UPDATE SET trials = trials + 1;
    END
    """,
]
DROP_COUNTS = {
    "postgresql": [
        *(
            f"DROP TRIGGER IF EXISTS trg_member_counts_{op_} ON watchlist_trials"
            for op_ in ("insert", "update", "delete")
        ),
        "DROP FUNCTION IF EXISTS trialwatch_member_counts()",
    ],
    "sqlite": [f"DROP TRIGGER IF EXISTS trg_member_counts_{op_}" for op_ in ("insert", "update", "delete")],
}


def _member_counts() -> None:
    counts = op.create_table(
        "watchlist_member_counts",
        sa.Column("watchlist", sa.String(100), primary_key=True),
        sa.Column("trials", sa.Integer, nullable=False),
    )
    members = sa.table("watchlist_trials", sa.column("watchlist", sa.String), sa.column("left_at"))
    current = (
        sa.select(members.c.watchlist, sa.func.count())
        .where(members.c.left_at.is_(None))
        .group_by(members.c.watchlist)
    )
    op.execute(counts.insert().from_select(["watchlist", "trials"], current))
    for statement in PG_COUNTS if op.get_bind().dialect.name == "postgresql" else SQLITE_COUNTS:
        op.execute(statement)


def upgrade() -> None:
    # Plain ADD/DROP COLUMN: SQLite changes the table in place (a rebuild would trip the foreign keys).
    op.add_column("studies", sa.Column("last_posted", sa.String(10), nullable=True))
    _backfill_last_posted()
    op.drop_index("ix_studies_title", table_name="studies")
    op.drop_index("ix_studies_last_changed_at", table_name="studies")
    for name, columns in STUDY_INDEXES.items():
        op.create_index(name, "studies", columns)
    op.create_index("ix_change_events_version", "change_events", ["version_id", "id"])
    _member_counts()
    if op.get_bind().dialect.name == "postgresql":
        _trigram_index()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    for statement in DROP_COUNTS[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table("watchlist_member_counts")
    op.drop_index("ix_change_events_version", table_name="change_events")
    for name in STUDY_INDEXES:
        op.drop_index(name, table_name="studies")
    op.create_index("ix_studies_last_changed_at", "studies", ["last_changed_at"])
    op.create_index("ix_studies_title", "studies", ["title"])
    op.execute("ALTER TABLE studies DROP COLUMN last_posted")
