"""A trigram index on study titles for SQLite (FTS5), kept in step with studies by triggers

Without it a title search on SQLite reads every title (LIKE '%word%'); PostgreSQL has had its
trigram index since 0011. Each row of the FTS5 table is keyed by the trial's number (NCT00012345
is 12345), not by studies' own rowid, which VACUUM may renumber; the triggers keep it in step with
every write, whoever writes. A SQLite built without FTS5 keeps searching by scanning, as before.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

TABLE = "studies_title_fts"


def _key(row: str) -> str:
    # The trial's number: unique for every id of the form NCT + 8 digits, whatever VACUUM does.
    return f"CAST(substr({row}.nct_id, 4) AS INTEGER)"


TRIGGERS = {
    "trg_studies_title_fts_insert": f"""
    CREATE TRIGGER trg_studies_title_fts_insert AFTER INSERT ON studies BEGIN
      INSERT OR REPLACE INTO {TABLE} (rowid, title) VALUES ({_key("NEW")}, NEW.title);
    END
    """,
    "trg_studies_title_fts_delete": f"""
    CREATE TRIGGER trg_studies_title_fts_delete AFTER DELETE ON studies BEGIN
      DELETE FROM {TABLE} WHERE rowid = {_key("OLD")};
    END
    """,
    "trg_studies_title_fts_update": f"""
    CREATE TRIGGER trg_studies_title_fts_update AFTER UPDATE OF nct_id, title ON studies BEGIN
      DELETE FROM {TABLE} WHERE rowid = {_key("OLD")};
      INSERT OR REPLACE INTO {TABLE} (rowid, title) VALUES ({_key("NEW")}, NEW.title);
    END
    """,
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            op.execute(f"CREATE VIRTUAL TABLE {TABLE} USING fts5(title, tokenize='trigram')")
    except sa.exc.DBAPIError as error:
        # FTS5's trigram tokenizer needs SQLite 3.34 built with FTS5; search scans titles without it.
        log.warning("SQLite has no FTS5 trigram tokenizer (%s); title search scans every title", error.orig)
        return
    op.execute(f"INSERT OR REPLACE INTO {TABLE} (rowid, title) SELECT {_key('studies')}, title FROM studies")
    for statement in TRIGGERS.values():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
