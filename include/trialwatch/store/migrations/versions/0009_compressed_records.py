"""study_versions.record: the record compressed with a dictionary, instead of raw_json

Also study_versions.posted (the record's posting date, sorted on in SQL) and a reset of
studies.quick_hash, whose encoding changed: each trial just misses the batch gate's fast path once.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from trialwatch.store import codec

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CHUNK = 500


def _rows(column: str) -> Any:
    """(id, value) of every version, a chunk at a time, so a large store is never read whole."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.text(f"SELECT id, {column} FROM study_versions WHERE id > :last ORDER BY id LIMIT {CHUNK}"),
            {"last": last},
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def upgrade() -> None:
    # Plain ALTER TABLE on both backends: a batch copy of the table would break change_events'
    # foreign keys on SQLite (3.35 and later drop a column in place).
    op.add_column("study_versions", sa.Column("record", sa.LargeBinary(), nullable=True))
    op.add_column("study_versions", sa.Column("posted", sa.String(10), nullable=True))
    connection = op.get_bind()
    for rows in _rows("raw_json"):
        params = []
        for version_id, raw in rows:
            # SQLite hands the JSON column back as text, psycopg2 as parsed JSON.
            value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
            params.append(
                {
                    "b_id": version_id,
                    "b_record": codec.encode_record(value),
                    "b_posted": codec.posted_of(value),
                }
            )
        connection.execute(
            sa.text("UPDATE study_versions SET record = :b_record, posted = :b_posted WHERE id = :b_id"),
            params,
        )
    op.execute("ALTER TABLE study_versions DROP COLUMN raw_json")
    op.execute("UPDATE studies SET quick_hash = NULL")


def downgrade() -> None:
    op.add_column("study_versions", sa.Column("raw_json", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for rows in _rows("record"):
        params = [
            {"b_id": version_id, "b_raw": json.dumps(codec.decode_record(blob))} for version_id, blob in rows
        ]
        connection.execute(sa.text("UPDATE study_versions SET raw_json = :b_raw WHERE id = :b_id"), params)
    op.execute("ALTER TABLE study_versions DROP COLUMN posted")
    op.execute("ALTER TABLE study_versions DROP COLUMN record")
    op.execute("UPDATE studies SET quick_hash = NULL")
