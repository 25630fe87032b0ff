"""exactly once: unique version and event keys, the sync lease, the watchlist fingerprint per run

Stores written before this revision may hold versions and events that two overlapping syncs wrote
twice. Those copies are removed first (the oldest row of each version is kept, with its events),
then the keys become NOT NULL and unique.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from trialwatch.store.models import event_key, version_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _dedupe_versions(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text("SELECT id, nct_id, content_hash, registry_version FROM study_versions ORDER BY nct_id, id")
    ).all()
    kept: dict[tuple[str, str, str], int] = {}
    last_kept: dict[str, int] = {}
    duplicates: dict[int, int] = {}
    for row_id, nct_id, content_hash, registry_version in rows:
        key = version_key(registry_version, last_kept.get(nct_id))
        original = kept.get((nct_id, content_hash, key))
        if original is not None:
            duplicates[row_id] = original
            continue
        kept[(nct_id, content_hash, key)] = row_id
        last_kept[nct_id] = row_id
        conn.execute(
            sa.text("UPDATE study_versions SET version_key = :key WHERE id = :id"), {"key": key, "id": row_id}
        )
    for duplicate, original in duplicates.items():
        # The copy's events repeat the original's: drop them; point the study at the original.
        conn.execute(sa.text("DELETE FROM change_events WHERE version_id = :id"), {"id": duplicate})
        conn.execute(
            sa.text("UPDATE studies SET current_version_id = :original WHERE current_version_id = :id"),
            {"original": original, "id": duplicate},
        )
        conn.execute(sa.text("DELETE FROM study_versions WHERE id = :id"), {"id": duplicate})


def _key_events(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text("SELECT id, nct_id, version_id, path, field FROM change_events ORDER BY id")
    ).all()
    seen: dict[tuple[str, int | None, str, str], int] = {}
    for row_id, nct_id, version_id, path, field in rows:
        group = (nct_id, version_id, path or "", field or "")
        occurrence = seen.get(group, 0)
        seen[group] = occurrence + 1
        conn.execute(
            sa.text("UPDATE change_events SET event_key = :key WHERE id = :id"),
            {"key": event_key(nct_id, version_id, path or "", field or "", occurrence), "id": row_id},
        )


def upgrade() -> None:
    with op.batch_alter_table("study_versions") as batch_op:
        batch_op.add_column(sa.Column("version_key", sa.String(length=40), nullable=True))
    with op.batch_alter_table("change_events") as batch_op:
        batch_op.add_column(sa.Column("event_key", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    _dedupe_versions(conn)
    _key_events(conn)
    # Unique indexes, not constraints: SQLite adds an index in place, while a constraint would mean
    # rebuilding study_versions, which change_events' foreign key refuses while it holds rows.
    op.create_index(
        "uq_study_versions_version", "study_versions", ["nct_id", "content_hash", "version_key"], unique=True
    )
    op.create_index("uq_change_events_key", "change_events", ["nct_id", "event_key"], unique=True)
    if conn.dialect.name != "sqlite":
        # SQLite cannot make a column NOT NULL without that rebuild; there the ORM always sets the keys.
        op.alter_column("study_versions", "version_key", existing_type=sa.String(length=40), nullable=False)
        op.alter_column("change_events", "event_key", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.add_column(sa.Column("watchlist_fingerprint", sa.String(length=64), nullable=True))
    op.create_table(
        "sync_lease",
        sa.Column("name", sa.String(length=20), primary_key=True),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_lease")
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.drop_column("watchlist_fingerprint")
    op.drop_index("uq_change_events_key", table_name="change_events")
    op.drop_index("uq_study_versions_version", table_name="study_versions")
    with op.batch_alter_table("change_events") as batch_op:
        batch_op.drop_column("event_key")
    with op.batch_alter_table("study_versions") as batch_op:
        batch_op.drop_column("version_key")
