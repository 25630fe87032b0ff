"""Reads and writes of the backfill queue: newly watched trials whose older versions come later.

The sync stores a new trial's current version and enqueues it here (``enqueue``, in the same
transaction). ``trialwatch.backfill`` drains the queue newest first; every version it adds is written
by ``add_older`` in one transaction that locks the trial's row, checks that the entry's cursor is
still where the caller read it, and inserts the version *before* the trial's stored ones (flagged
``backfill``, see ``models.version_order``), so the current version never moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from trialwatch.events import ChangeEvent
from trialwatch.store.errors import WriteConflict
from trialwatch.store.models import BackfillEntry, Study, StudyVersion, version_key
from trialwatch.store.repository import event_row


class StoredMeanwhile(WriteConflict):
    """A sync that took a trial for new finds another version of it stored meanwhile: the other
    sync stored it first, so this transaction is rolled back as a duplicate (``is_duplicate``)."""

    def __init__(self, nct_id: str) -> None:
        super().__init__(
            f"enqueue {nct_id}", None, Exception(f"{nct_id}: trial stored first by another sync")
        )


class CursorMoved(RuntimeError):
    """The entry changed since it was read (another backfill wrote it): nothing was written."""


@dataclass(frozen=True)
class Pending:
    """One queued trial as the backfill reads it."""

    nct_id: str
    anchor_version_id: int
    depth: int | None
    dates: dict[str, str] | None
    next_version: int | None
    stop_version: int | None
    newer_version_id: int | None
    attempts: int


@dataclass(frozen=True)
class StoredVersion:
    id: int
    raw_json: dict[str, Any]
    content_hash: str
    registry_version: int | None
    registry_version_date: str | None
    backfill: bool


def enqueue(session: Session, nct_id: str, *, depth: int | None, posted: str | None, now: datetime) -> bool:
    """Queue the history of ``nct_id`` before its just-stored current version. False if not queued.

    ``depth``: older versions wanted, None for all; 0 queues nothing. A trial already queued keeps
    its entry, with the larger of the two depths. Raises StoredMeanwhile if the trial has another
    version besides the one just stored (a racing sync stored it first).
    """
    study = session.get(Study, nct_id)
    if study is None or study.current_version_id is None:
        raise LookupError(f"{nct_id} has no stored version to backfill before")
    stored = session.scalar(
        select(func.count()).select_from(StudyVersion).where(StudyVersion.nct_id == nct_id)
    )
    if stored != 1:
        raise StoredMeanwhile(nct_id)
    if depth == 0:
        return False
    entry = session.get(BackfillEntry, nct_id)
    if entry is not None:
        if entry.done_at is None and entry.depth is not None:
            entry.depth = None if depth is None else max(entry.depth, depth)
        return False
    session.add(
        BackfillEntry(
            nct_id=nct_id,
            anchor_version_id=study.current_version_id,
            depth=depth,
            posted=posted,
            enqueued_at=now,
            fetched=0,
            attempts=0,
        )
    )
    return True


def _pending(entry: BackfillEntry) -> Pending:
    return Pending(
        nct_id=entry.nct_id,
        anchor_version_id=entry.anchor_version_id,
        depth=entry.depth,
        dates=dict(entry.dates) if entry.dates is not None else None,
        next_version=entry.next_version,
        stop_version=entry.stop_version,
        newer_version_id=entry.newer_version_id,
        attempts=entry.attempts,
    )


def next_entries(session: Session, limit: int) -> list[Pending]:
    """Up to ``limit`` unfinished entries, most recently changed trials first (then newest queued)."""
    rows = session.scalars(
        select(BackfillEntry)
        .where(BackfillEntry.done_at.is_(None))
        .order_by(
            BackfillEntry.posted.desc().nulls_last(),
            BackfillEntry.enqueued_at.desc(),
            BackfillEntry.nct_id,
        )
        .limit(limit)
    )
    return [_pending(row) for row in rows]


def entry(session: Session, nct_id: str) -> Pending | None:
    row = session.get(BackfillEntry, nct_id)
    return _pending(row) if row is not None else None


def stored_version(session: Session, version_id: int) -> StoredVersion | None:
    row = session.get(StudyVersion, version_id)
    if row is None:
        return None
    return StoredVersion(
        id=row.id,
        raw_json=row.raw_json,
        content_hash=row.content_hash,
        registry_version=row.registry_version,
        registry_version_date=row.registry_version_date,
        backfill=bool(row.backfill),
    )


def _locked(session: Session, pending: Pending) -> BackfillEntry:
    """The entry, with its trial's row locked (the sync's writes lock the same row)."""
    session.get(Study, pending.nct_id, with_for_update=True)
    row = session.get(BackfillEntry, pending.nct_id, with_for_update=True)
    if (
        row is None
        or row.done_at is not None
        or (row.next_version, row.newer_version_id) != (pending.next_version, pending.newer_version_id)
    ):
        raise CursorMoved(f"{pending.nct_id}: the backfill entry changed since it was read")
    return row


def place_anchor(
    session: Session,
    pending: Pending,
    *,
    registry_version: int,
    dates: dict[str, str],
    stop_version: int,
    now: datetime,
) -> bool:
    """Number the anchor version (the registry's version list was read) and set the cursor below it.

    Returns True if there is something older to fetch; else the entry is done.
    """
    row = _locked(session, pending)
    anchor = session.get(StudyVersion, row.anchor_version_id)
    if anchor is None:
        raise LookupError(f"{pending.nct_id}: version {row.anchor_version_id} is not in the store")
    if anchor.registry_version is None:
        anchor.registry_version = registry_version
        anchor.registry_version_date = dates.get(str(registry_version))
        anchor.version_key = version_key(registry_version)
        study = session.get(Study, pending.nct_id)
        if study is not None and study.current_version_id == anchor.id:
            study.registry_version = registry_version
    row.dates = dates
    row.next_version = registry_version - 1
    row.stop_version = stop_version
    row.newer_version_id = anchor.id
    row.attempts, row.last_error = 0, None
    if row.next_version < stop_version:
        row.done_at = now
        return False
    return True


def add_older(
    session: Session,
    pending: Pending,
    *,
    study: dict[str, Any],
    content_hash: str,
    events: Sequence[ChangeEvent],
    now: datetime,
    data_timestamp: str | None,
) -> Pending:
    """Store registry version ``pending.next_version`` before the stored ones; returns the new cursor.

    ``events`` lead from this version to the newer stored one (``pending.newer_version_id``) and are
    attached to it, flagged backfill. A version whose content equals the newer one is not stored.
    """
    row = _locked(session, pending)
    number = row.next_version
    assert number is not None and row.newer_version_id is not None
    newer = session.get(StudyVersion, row.newer_version_id)
    if newer is None:
        raise LookupError(f"{pending.nct_id}: version {row.newer_version_id} is not in the store")
    date = (row.dates or {}).get(str(number))
    if content_hash == newer.content_hash:
        if newer.backfill:  # the same content, posted earlier: the stored row starts here
            newer.registry_version, newer.registry_version_date = number, date
            newer.version_key = version_key(number)
    else:
        # The newer version's events so far (none: it was stored first or without its predecessor).
        seen: dict[tuple[str, str], int] = {}
        for event in events:
            occurrence = seen.get((event.path, event.field), 0)
            seen[(event.path, event.field)] = occurrence + 1
            session.add(event_row(event, newer.id, now, True, occurrence))
        older = StudyVersion(
            nct_id=pending.nct_id,
            content_hash=content_hash,
            version_key=version_key(number),
            registry_version=number,
            registry_version_date=date,
            data_timestamp=data_timestamp,
            fetched_at=now,
            source="history",
            raw_json=study,
            backfill=True,
        )
        session.add(older)
        session.flush()
        row.newer_version_id = older.id
        # an earlier version can carry the anticipated enrollment a findings check compares with
        session.execute(update(Study).where(Study.nct_id == pending.nct_id).values(findings_due=None))
        row.fetched += 1
    row.next_version = number - 1
    row.attempts, row.last_error = 0, None
    if row.next_version < (row.stop_version or 0):
        row.done_at = now
    session.flush()
    return _pending(row)


def record_failure(session: Session, nct_id: str, error: str, *, give_up_after: int, now: datetime) -> bool:
    """Count a failed attempt; after ``give_up_after`` of them the entry is closed. True if closed."""
    row = session.get(BackfillEntry, nct_id, with_for_update=True)
    if row is None or row.done_at is not None:
        return False
    row.attempts += 1
    row.last_error = error[:2000]
    if row.attempts >= give_up_after:
        row.done_at = now
        return True
    return False


def finish(session: Session, nct_id: str, *, now: datetime, error: str | None = None) -> None:
    """Close an entry: nothing left to fetch (or nothing can be, with ``error`` saying why)."""
    row = session.get(BackfillEntry, nct_id, with_for_update=True)
    if row is not None and row.done_at is None:
        row.done_at = now
        if error is not None:
            row.last_error = error[:2000]


def counts(session: Session) -> dict[str, int]:
    """Queued (unfinished) and done entries."""
    queued = session.scalar(
        select(func.count()).select_from(BackfillEntry).where(BackfillEntry.done_at.is_(None))
    )
    total = session.scalar(select(func.count()).select_from(BackfillEntry))
    return {"queued": int(queued or 0), "done": int((total or 0) - (queued or 0))}
