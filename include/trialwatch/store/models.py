"""The snapshot store's tables (SQLAlchemy 2.x). Schema changes go through Alembic migrations.

- ``study_versions`` is append-only: every new version of a record, the record (compressed, see
  ``store.codec``) and content hash.
- ``studies`` is the current state of each record, derived from its newest version.
- ``change_events`` are what the diff found between consecutive versions.
- ``watchlist_trials`` says which watchlist watches which trial, and since when.
- ``sync_runs`` records each sync: what was fetched, what failed and why (pipeline health).
- ``sync_plan_batches`` holds the running sync's planned ids, one row per batch.
- ``sync_lease`` names the one sync run allowed to write now (see ``store.lease``).
- ``digest_outbox`` holds rendered digests, one row per watchlist, period and recipient.
- ``findings`` are what is wrong with watched records (``trialwatch.findings``), opened and resolved
  by sync runs.
- ``backfill_queue`` holds newly watched trials whose older versions are still to be fetched
  (``trialwatch.backfill``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    case,
    false,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from trialwatch.store import codec


class Base(DeclarativeBase):
    pass


def version_key(registry_version: int | None, after_id: int | None = None) -> str:
    """A version's identity besides its content: the registry's number, else the version it follows.

    "after <id>" lets a record return to an earlier content (A → B → A) without a registry number,
    while two syncs that both add the same successor of the same stored version collide.
    """
    if registry_version is not None:
        return f"v{registry_version}"
    return f"after {after_id}" if after_id is not None else "unnumbered"


def event_key(nct_id: str, version_id: int | None, path: str, field: str, occurrence: int = 0) -> str:
    """An event's identity: its trial, source version (none for gone/alias/left), path, field and
    how many events of that trial, version, path and field came before it."""
    text = "\x1f".join([nct_id, "-" if version_id is None else str(version_id), path, field, str(occurrence)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _default_version_key(context: Any) -> str:
    return version_key(context.get_current_parameters().get("registry_version"))


def _default_event_key(context: Any) -> str:
    # Rows written without a key (fixtures, tools) count the stored events like them. The sync sets
    # the key itself, because it writes several events of one version in one statement.
    row = context.get_current_parameters()
    nct_id, version_id = row["nct_id"], row.get("version_id")
    path, field = row.get("path") or "", row.get("field") or ""
    events = ChangeEventRow.__table__
    version = events.c.version_id.is_(None) if version_id is None else events.c.version_id == version_id
    occurrence = context.connection.execute(
        select(func.count())
        .select_from(events)
        .where(events.c.nct_id == nct_id, version, events.c.path == path, events.c.field == field)
    ).scalar_one()
    return event_key(nct_id, version_id, path, field, occurrence)


class Study(Base):
    __tablename__ = "studies"

    nct_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    overall_status: Mapped[str | None] = mapped_column(String(40))
    enrollment_count: Mapped[int | None] = mapped_column(Integer)
    enrollment_type: Mapped[str | None] = mapped_column(String(20))
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    current_hash: Mapped[str | None] = mapped_column(String(64))
    # records.quick_hash of a fetched record whose content hash is current_hash; cleared when the
    # current version moves. Lets the sync skip the canonical form for an unchanged record.
    quick_hash: Mapped[str | None] = mapped_column(String(64))
    registry_version: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_change_severity: Mapped[str | None] = mapped_column(String(10))
    # The registry's posting date of the current version (its history entry's, else the record's own):
    # what the overview sorts by, so it is a column with an index rather than read from the version.
    last_posted: Mapped[str | None] = mapped_column(String(10))
    # Set when the registry answers 404 for the record; cleared if it comes back.
    gone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the id turned out to be an alias (301) of another record.
    alias_of: Mapped[str | None] = mapped_column(String(16))
    # The first as-of date (ISO) on which this trial's findings could read differently; NEVER when
    # they do not depend on the date, None until evaluated. The daily evaluation skips the rest.
    findings_due: Mapped[str | None] = mapped_column(String(10))
    # The run and version whose findings a sync batch evaluated when it stored the trial's first
    # version; that run's findings step skips the trial while both still hold (migration 0019).
    findings_run_id: Mapped[int | None] = mapped_column(Integer)
    findings_version_id: Mapped[int | None] = mapped_column(Integer)
    # How many watchlists watch the trial now (memberships with left_at unset): kept by triggers on
    # watchlist_trials (migration 0017); its rows in the overview, summed by a page number's skip.
    current_members: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # One index per overview sort, each ending in the tie-breaker, so any page is an index walk; the
    # trailing current_members lets a page by number skip rows from the index alone.
    __table_args__ = (
        Index("ix_studies_title_nct", "title", "nct_id", "current_members"),
        Index("ix_studies_last_posted_nct", "last_posted", "last_changed_at", "nct_id", "current_members"),
        Index("ix_studies_last_changed_nct", "last_changed_at", "nct_id", "current_members"),
        Index("ix_studies_status_nct", "overall_status", "nct_id", "current_members"),
        Index("ix_studies_enrollment_nct", "enrollment_count", "nct_id", "current_members"),
        Index(
            "ix_studies_severity_nct", "last_change_severity", "last_changed_at", "nct_id", "current_members"
        ),
        Index("ix_studies_findings_due", "findings_due"),
    )


class StudyVersion(Base):
    __tablename__ = "study_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Found by nct_id through the unique index below, whose leading column it is (migration 0020).
    nct_id: Mapped[str] = mapped_column(String(16), ForeignKey("studies.nct_id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    # The registry's own version number and posting date (from the history endpoints), when known.
    registry_version: Mapped[int | None] = mapped_column(Integer)
    registry_version_date: Mapped[str | None] = mapped_column(String(10))
    # The registry's data build that served this record (GET /version dataTimestamp).
    data_timestamp: Mapped[str | None] = mapped_column(String(19))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # "current": fetched as the live record; "history": rebuilt from the registry's version history.
    source: Mapped[str] = mapped_column(String(10), default="current")
    # The record as fetched, compressed (``codec.encode_record``); read it as ``raw_json``.
    record: Mapped[bytes] = mapped_column(LargeBinary)
    # The record's lastUpdatePostDateStruct.date, for sorting by it in SQL.
    posted: Mapped[str | None] = mapped_column(String(10))
    # What makes this version itself: "v<registry version>" when the registry numbered it, else
    # "after <id of the version it follows>" ("first" for none). Together with the content hash it is
    # unique, so two syncs that race cannot store the same version twice.
    version_key: Mapped[str] = mapped_column(String(40), default=_default_version_key)
    # True for an older version the backfill inserted after the trial's newer ones were stored: it
    # sorts before them (see ``version_order``), and is history, not news.
    backfill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def raw_json(self) -> Any:
        """The stored record, decoded."""
        return codec.decode_record(self.record)

    @raw_json.setter
    def raw_json(self, value: Any) -> None:
        self.record = codec.encode_record(value)
        self.posted = codec.posted_of(value)

    __table_args__ = (
        Index("uq_study_versions_version", "nct_id", "content_hash", "version_key", unique=True),
    )


def version_order(version: Any = StudyVersion, *, newest_first: bool = False) -> list[Any]:
    """A trial's versions in registry order, the one place that defines it.

    The sync appends versions in order, so their ids are ordered; the backfill inserts older ones
    later (bigger ids), all older than every version the sync stored, so they come first, by their
    registry number.
    """
    keys = [
        case((version.backfill.is_(True), 0), else_=1),
        case((version.backfill.is_(True), version.registry_version), else_=version.id),
        version.id,
    ]
    return [key.desc() for key in keys] if newest_first else keys


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
    # Hash of (trial, source version, path, field, occurrence): unique, so an event is stored once
    # even when two syncs race (see ``repository.event_key``).
    event_key: Mapped[str] = mapped_column(String(64), default=_default_event_key)

    __table_args__ = (
        Index("uq_change_events_key", "nct_id", "event_key", unique=True),
        # A trial page reads one page of versions, then a bounded number of events of each.
        Index("ix_change_events_version", "version_id", "id"),
    )


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

    __table_args__ = (Index("ix_watchlist_trials_nct_current", "nct_id", "left_at", "watchlist"),)


class WatchlistMemberCount(Base):
    """How many trials each watchlist watches now (left_at unset): kept by triggers on
    watchlist_trials (migration 0011), so the UI reads a count without counting members."""

    __tablename__ = "watchlist_member_counts"

    watchlist: Mapped[str] = mapped_column(String(100), primary_key=True)
    trials: Mapped[int] = mapped_column(Integer, default=0)


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # running | ok | partial | failed | skipped (another sync held the lease; nothing was done)
    status: Mapped[str] = mapped_column(String(10), default="running")
    # "full": every watched trial, memberships reconciled; "incremental": only records posted since the
    # last synced data build (and never-fetched ones); "ids": a manual run for given trials; "new": the
    # watchlists changed and only never-fetched trials were fetched. "full" and "incremental" runs
    # count as the day's sync; the last "full" one is the last reconciliation.
    scope: Mapped[str] = mapped_column(String(20), default="full", server_default="full")
    # Fingerprint of the watchlists the run resolved (None for "ids" runs and early failures): the
    # hourly gate syncs when today's watchlists differ from the last run's.
    watchlist_fingerprint: Mapped[str | None] = mapped_column(String(64))
    data_timestamp: Mapped[str | None] = mapped_column(String(19))
    studies_requested: Mapped[int] = mapped_column(Integer, default=0)
    studies_fetched: Mapped[int] = mapped_column(Integer, default=0)
    versions_added: Mapped[int] = mapped_column(Integer, default=0)
    events_added: Mapped[int] = mapped_column(Integer, default=0)
    # [{"nct_id": ..., "error": ...}] for records that could not be fetched or stored.
    failures: Mapped[list] = mapped_column(JSON, default=list)
    # Notes a reader of the digest must see, e.g. "version history unavailable: fell back to current diffs".
    notes: Mapped[list] = mapped_column(JSON, default=list)
    # The date this run evaluated findings as of (ISO; None: it did not evaluate them).
    findings_as_of: Mapped[str | None] = mapped_column(String(10))


class SyncPlanBatch(Base):
    """One batch of a sync run's plan: the ids one mapped fetch task loads, and their thresholds."""

    __tablename__ = "sync_plan_batches"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    nct_ids: Mapped[list] = mapped_column(JSON)
    # nct_id -> diff thresholds, for the batch's trials whose watchlists set any.
    thresholds: Mapped[dict] = mapped_column(JSON)
    # nct_id -> older versions to backfill if new, where its watchlists ask for fewer than all.
    history_depths: Mapped[dict] = mapped_column(JSON, default=dict)


class SyncLease(Base):
    """At most one row per name: the sync run that may write now, until ``expires_at``."""

    __tablename__ = "sync_lease"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
    # The highest sync run whose findings this digest covers (the findings cursor; None: none covered).
    last_finding_run_id: Mapped[int | None] = mapped_column(Integer)
    # The full RFC 5322 message as rendered, so a retry sends the same bytes and the UI can show it.
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When a sender took the row (status "sending"); a claim older than the lease is taken over.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("watchlist", "period_key", "recipient", name="uq_digest_outbox_key"),)


class FeedToken(Base):
    """The secret in a watchlist's capability feed URL: whoever holds it may read that feed."""

    __tablename__ = "feed_tokens"

    watchlist: Mapped[str] = mapped_column(String(100), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BackfillEntry(Base):
    """A newly watched trial whose older versions the backfill still has to fetch, newest first."""

    __tablename__ = "backfill_queue"

    nct_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The version the sync stored when the trial was new: the backfill inserts what came before it.
    anchor_version_id: Mapped[int] = mapped_column(Integer)
    # How many older versions to fetch: None for the whole history (a watchlist's ``history``).
    depth: Mapped[int | None] = mapped_column(Integer)
    # The registry's posting date of the anchor: the most recently changed trials are drained first.
    posted: Mapped[str | None] = mapped_column(String(10))
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set once the version list was read: {"<registry version>": "<posting date>"}, the next version
    # to fetch (counting down), the lowest one wanted, and the stored version the next one precedes.
    dates: Mapped[dict | None] = mapped_column(JSON)
    next_version: Mapped[int | None] = mapped_column(Integer)
    stop_version: Mapped[int | None] = mapped_column(Integer)
    newer_version_id: Mapped[int | None] = mapped_column(Integer)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when nothing is left to fetch (or the history could not be read after several tries).
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_backfill_queue_pending", "done_at", "posted"),)


class FindingRow(Base):
    """One finding from its first sync to the sync that no longer saw it (``resolved_run_id``)."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    nct_id: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    certainty: Mapped[str] = mapped_column(String(10))
    evidence: Mapped[dict] = mapped_column(JSON)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_run_id: Mapped[int] = mapped_column(Integer)
    resolved_run_id: Mapped[int | None] = mapped_column(Integer)
    # The key while open, None once resolved: unique, so a finding is open at most once; one that
    # comes back after it was resolved gets a new row.
    open_key: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_findings_nct", "nct_id"),
        Index("ix_findings_opened_run", "opened_run_id"),
        Index("ix_findings_resolved_run", "resolved_run_id"),
        Index("uq_findings_open_key", "open_key", unique=True),
    )
