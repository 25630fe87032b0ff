"""SQLite's title index catches up once per transaction, not once per row

0015's triggers wrote each studies row's title into the FTS5 index as the row changed. A trigger
that writes an FTS5 table makes it flush its pending terms to disk on every row (SQLite 3.40 opens
a savepoint around each trigger step), so storing a trial cost about 200 us of CPU in that index
alone: most of a registry-wide first sync's store writes. The triggers now only note the trial in
``studies_title_pending``; ``title_index.catch_up`` re-indexes the noted trials in two statements
before a store session commits, and search reads the noted trials' titles directly meanwhile.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

INDEX = "studies_title_fts"
PENDING = "studies_title_pending"
OLD_TRIGGERS = (
    "trg_studies_title_fts_insert",
    "trg_studies_title_fts_delete",
    "trg_studies_title_fts_update",
)
TRIGGERS = {
    "trg_studies_title_pending_insert": f"""
    CREATE TRIGGER trg_studies_title_pending_insert AFTER INSERT ON studies BEGIN
      INSERT OR IGNORE INTO {PENDING} (nct_id) VALUES (NEW.nct_id);
    END
    """,
    "trg_studies_title_pending_delete": f"""
    CREATE TRIGGER trg_studies_title_pending_delete AFTER DELETE ON studies BEGIN
      INSERT OR IGNORE INTO {PENDING} (nct_id) VALUES (OLD.nct_id);
    END
    """,
    "trg_studies_title_pending_update": f"""
    CREATE TRIGGER trg_studies_title_pending_update AFTER UPDATE OF nct_id, title ON studies BEGIN
      INSERT OR IGNORE INTO {PENDING} (nct_id) VALUES (OLD.nct_id);
      INSERT OR IGNORE INTO {PENDING} (nct_id) VALUES (NEW.nct_id);
    END
    """,
}


def _key(row: str) -> str:
    return f"CAST(substr({row}.nct_id, 4) AS INTEGER)"  # as 0015: the trial's number


# 0015's triggers, for the downgrade.
OLD_TRIGGER_SQL = [
    f"""
    CREATE TRIGGER trg_studies_title_fts_insert AFTER INSERT ON studies BEGIN
      INSERT OR REPLACE INTO {INDEX} (rowid, title) VALUES ({_key("NEW")}, NEW.title);
    END
    """,
    f"""
    CREATE TRIGGER trg_studies_title_fts_delete AFTER DELETE ON studies BEGIN
      DELETE FROM {INDEX} WHERE rowid = {_key("OLD")};
    END
    """,
    f"""
    CREATE TRIGGER trg_studies_title_fts_update AFTER UPDATE OF nct_id, title ON studies BEGIN
      DELETE FROM {INDEX} WHERE rowid = {_key("OLD")};
      INSERT OR REPLACE INTO {INDEX} (rowid, title) VALUES ({_key("NEW")}, NEW.title);
    END
    """,
]


def _has_index() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    found = bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (INDEX,))
    return found.first() is not None  # 0015 made none where SQLite lacks FTS5's trigram tokenizer


def upgrade() -> None:
    if not _has_index():
        return
    op.execute(f"CREATE TABLE {PENDING} (nct_id VARCHAR(16) NOT NULL PRIMARY KEY)")
    for name in OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in TRIGGERS.values():
        op.execute(statement)


def downgrade() -> None:
    if not _has_index():
        return
    from trialwatch.store import title_index

    title_index.catch_up(op.get_bind())
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE IF EXISTS {PENDING}")
    for statement in OLD_TRIGGER_SQL:
        op.execute(statement)
