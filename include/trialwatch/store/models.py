"""The snapshot store's tables (SQLAlchemy 2.x). Schema changes go through Alembic migrations.

- ``study_versions`` is append-only: every new version of a record, raw JSON and content hash.
- ``studies`` is the current state of each record, derived from its newest version.
- ``change_events`` are what the diff found between consecutive versions.
- ``watchlist_trials`` says which watchlist watches which trial, and since when.
- ``sync_runs`` records each sync: what was fetched, what failed and why (pipeline health).
- ``digest_outbox`` holds rendered digests, one row per watchlist, period and recipient.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "studies"

    nct_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    overall_status: Mapped[str | None] = mapped_column(String(40))
    enrollment_count: Mapped[int | None] = mapped_column(Integer)
    enrollment_type: Mapped[str | None] = mapped_column(String(20))
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    current_hash: Mapped[str | None] = mapped_column(String(64))
    registry_version: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_change_severity: Mapped[str | None] = mapped_column(String(10))
    # Set when the registry answers 404 for the record; cleared if it comes back.
    gone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the id turned out to be an alias (301) of another record.
    alias_of: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_studies_title", "title"),)


class StudyVersion(Base):
    __tablename__ = "study_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nct_id: Mapped[str] = mapped_column(String(16), ForeignKey("studies.nct_id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The registry's own version number and posting date (from the history endpoints), when known.
    registry_version: Mapped[int | None] = mapped_column(Integer)
    registry_version_date: Mapped[str | None] = mapped_column(String(10))
    # The registry's data build that served this record (GET /version dataTimestamp).
    data_timestamp: Mapped[str | None] = mapped_column(String(19))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # "current": fetched as the live record; "history": rebuilt from the registry's version history.
    source: Mapped[str] = mapped_column(String(10), default="current")
    raw_json: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (Index("ix_study_versions_nct_hash", "nct_id", "content_hash"),)


class ChangeEventRow(Base):
    __tablename__ = "change_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nct_id: Mapped[str] = mapped_column(String(16), ForeignKey("studies.nct_id"), index=True)
    version_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("study_versions.id"))
    category: Mapped[str] = mapped_column(String(20))
    field: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text, default="")
    old: Mapped[object | None] = mapped_column(JSON)
    new: Mapped[object | None] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(10), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    old_version: Mapped[int | None] = mapped_column(Integer)
    new_version: Mapped[int | None] = mapped_column(Integer)
    old_version_date: Mapped[str | None] = mapped_column(String(10))
    new_version_date: Mapped[str | None] = mapped_column(String(10))
    old_hash: Mapped[str | None] = mapped_column(String(64))
    new_hash: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict | None] = mapped_column(JSON)
    # True for events rebuilt from a newly watched trial's past versions: they fill its timeline
    # but are history, not news, so digests leave them out.
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WatchlistTrial(Base):
    __tablename__ = "watchlist_trials"

    watchlist: Mapped[str] = mapped_column(String(100), primary_key=True)
    nct_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    # "id": listed by id in the watchlist; "query": found by one of its searches.
    via: Mapped[str] = mapped_column(String(10))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when a trial found by query stops matching it (reported once as an identity event).
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_watchlist_trials_nct", "nct_id"),)


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="running")  # running | ok | partial | failed
    # "full": every watched trial; "ids": a manual run for given trials (does not count as synced).
    scope: Mapped[str] = mapped_column(String(10), default="full", server_default="full")
    data_timestamp: Mapped[str | None] = mapped_column(String(19))
    studies_requested: Mapped[int] = mapped_column(Integer, default=0)
    studies_fetched: Mapped[int] = mapped_column(Integer, default=0)
    versions_added: Mapped[int] = mapped_column(Integer, default=0)
    events_added: Mapped[int] = mapped_column(Integer, default=0)
    # [{"nct_id": ..., "error": ...}] for records that could not be fetched or stored.
    failures: Mapped[list] = mapped_column(JSON, default=list)
    # Notes a reader of the digest must see, e.g. "version history unavailable: fell back to current diffs".
    notes: Mapped[list] = mapped_column(JSON, default=list)


class DigestOutbox(Base):
    __tablename__ = "digest_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    watchlist: Mapped[str] = mapped_column(String(100))
    period_key: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    # "email" (recipient is an address, message RFC 5322), or "webhook" | "slack" | "teams" (recipient is
    # "kind:connection id", message the JSON body to post).
    channel: Mapped[str] = mapped_column(String(10), default="email", server_default="email")
    # Derived from (watchlist, period_key, recipient): a re-sent copy carries the same id.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(10), default="queued", index=True
    )  # queued | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    first_event_id: Mapped[int | None] = mapped_column(Integer)
    last_event_id: Mapped[int | None] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # The full RFC 5322 message as rendered, so a retry sends the same bytes and the UI can show it.
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When a sender took the row (status "sending"); a claim older than the lease is taken over.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("watchlist", "period_key", "recipient", name="uq_digest_outbox_key"),)
