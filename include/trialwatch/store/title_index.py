"""SQLite's trigram index on study titles (FTS5, migrations 0015 and 0018), kept up per transaction.

Triggers note every trial whose title may have changed in ``studies_title_pending``; ``catch_up``
re-indexes the noted trials in a few statements, and the store calls it before each session
commits. A writer that bypasses the store leaves trials noted: search reads their titles directly
(``pending``) until a later commit catches up, so the index never hides a match.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

INDEX = "studies_title_fts"
PENDING = "studies_title_pending"
# The index is keyed by the trial's number (NCT00012345 is 12345): studies' rowids may be renumbered.
_KEY = "CAST(substr(nct_id, 4) AS INTEGER)"
_CATCH_UP = (
    f"DELETE FROM {INDEX} WHERE rowid IN (SELECT {_KEY} FROM {PENDING})",
    (
        f"INSERT OR REPLACE INTO {INDEX} (rowid, title) SELECT {_KEY}, title FROM studies"
        f" WHERE nct_id IN (SELECT nct_id FROM {PENDING})"
    ),
    f"DELETE FROM {PENDING}",
)


def exists(connection: Any) -> bool:
    """Whether this store has the index (SQLite with FTS5's trigram tokenizer, at 0018 or later)."""
    found = connection.execute(
        text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (:index, :pending)"),
        {"index": INDEX, "pending": PENDING},
    )
    return found.scalar_one() == 2


def catch_up(connection: Any) -> None:
    """Re-index the titles of the trials noted since the last catch-up (a Connection or a Session)."""
    if connection.execute(text(f"SELECT 1 FROM {PENDING} LIMIT 1")).first() is None:
        return
    for statement in _CATCH_UP:
        connection.execute(text(statement))
