"""Reads and writes of the snapshot store that the pipeline needs.

Every write a sync makes for one study happens in one transaction: the new versions, their change
events and the study's current state land together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from trialwatch import records
from trialwatch.events import SEVERITY_RANK, ChangeEvent
from trialwatch.store.models import ChangeEventRow, Study, StudyVersion, SyncRun, WatchlistTrial


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class NewVersion:
    """One version of a record about to be stored, with the events that lead to it."""

    study: dict[str, Any]
    content_hash: str
    events: list[ChangeEvent]
    registry_version: int | None = None
    registry_version_date: str | None = None
    source: str = "current"
    backfill: bool = False


def current_version(session: Session, nct_id: str) -> tuple[Study | None, StudyVersion | None]:
    study = session.get(Study, nct_id)
    if study is None or study.current_version_id is None:
        return study, None
    return study, session.get(StudyVersion, study.current_version_id)


def touch_fetched(session: Session, nct_ids: Iterable[str], *, now: datetime | None = None) -> None:
    ids = list(nct_ids)
    if ids:
        session.execute(
            update(Study).where(Study.nct_id.in_(ids)).values(last_fetched_at=now or utcnow(), gone_at=None)
        )


def event_row(
    event: ChangeEvent, version_id: int | None = None, now: datetime | None = None, backfill: bool = False
) -> ChangeEventRow:
    """The table row for one event (the inverse of ``event_from_row``)."""
    return ChangeEventRow(
        nct_id=event.nct_id,
        version_id=version_id,
        category=event.category,
        field=event.field,
        path=event.path,
        old=event.old,
        new=event.new,
        severity=event.severity,
        detail=event.detail,
        old_version=event.old_version,
        new_version=event.new_version,
        old_version_date=event.old_version_date,
        new_version_date=event.new_version_date,
        old_hash=event.old_hash,
        new_hash=event.new_hash,
        extra=event.extra or None,
        backfill=backfill,
        detected_at=now or utcnow(),
    )


def event_from_row(row: ChangeEventRow) -> ChangeEvent:
    return ChangeEvent(
        category=row.category,
        field=row.field,
        old=row.old,
        new=row.new,
        severity=row.severity,
        path=row.path,
        detail=row.detail,
        nct_id=row.nct_id,
        old_version=row.old_version,
        new_version=row.new_version,
        old_version_date=row.old_version_date,
        new_version_date=row.new_version_date,
        old_hash=row.old_hash,
        new_hash=row.new_hash,
        extra=dict(row.extra or {}),
    )


def _highest(events: Iterable[ChangeEvent]) -> str | None:
    ranked = [e.severity for e in events]
    return max(ranked, key=SEVERITY_RANK.__getitem__) if ranked else None


def store_versions(
    session: Session,
    nct_id: str,
    versions: Sequence[NewVersion],
    *,
    data_timestamp: str | None,
    now: datetime | None = None,
) -> int:
    """Append ``versions`` (oldest first) for ``nct_id`` and move its current state to the last one.

    Returns the number of events written.
    """
    now = now or utcnow()
    study = session.get(Study, nct_id)
    if study is None:
        study = Study(nct_id=nct_id, first_seen_at=now, title="")
        session.add(study)
    written = 0
    for version in versions:
        row = StudyVersion(
            nct_id=nct_id,
            content_hash=version.content_hash,
            registry_version=version.registry_version,
            registry_version_date=version.registry_version_date,
            data_timestamp=data_timestamp,
            fetched_at=now,
            source=version.source,
            raw_json=version.study,
        )
        session.add(row)
        session.flush()
        for event in version.events:
            session.add(event_row(event, row.id, now, version.backfill))
        written += len(version.events)
        study.current_version_id = row.id
        study.current_hash = version.content_hash
        study.registry_version = version.registry_version
        newsworthy = [] if version.backfill else version.events
        if newsworthy:
            study.last_changed_at = now
            study.last_change_severity = _highest(newsworthy)
    if versions:
        latest = versions[-1].study
        study.title = records.brief_title(latest)
        study.overall_status = records.overall_status(latest)
        study.enrollment_count, study.enrollment_type = records.enrollment(latest)
    study.last_fetched_at = now
    study.gone_at = None
    return written


def add_study_events(
    session: Session, nct_id: str, events: Sequence[ChangeEvent], *, now: datetime | None = None
) -> None:
    """Events that belong to no new version (record gone, alias, left a query)."""
    now = now or utcnow()
    study = session.get(Study, nct_id)
    if study is None:
        study = Study(nct_id=nct_id, first_seen_at=now, title="")
        session.add(study)
        session.flush()
    for event in events:
        session.add(event_row(event, None, now))
    if events:
        study.last_changed_at = now
        study.last_change_severity = _highest(events)


def mark_gone(session: Session, nct_id: str, *, now: datetime | None = None) -> bool:
    """Mark a record the registry answers 404 for. True the first time (the caller reports it once)."""
    now = now or utcnow()
    study = session.get(Study, nct_id)
    if study is None:
        session.add(Study(nct_id=nct_id, first_seen_at=now, title="", gone_at=now))
        return True
    if study.gone_at is not None:
        return False
    study.gone_at = now
    return True


def mark_alias(
    session: Session, requested_id: str, canonical_id: str, *, now: datetime | None = None
) -> bool:
    """Remember that ``requested_id`` now redirects to ``canonical_id``. True the first time."""
    now = now or utcnow()
    study = session.get(Study, requested_id)
    if study is None:
        session.add(Study(nct_id=requested_id, first_seen_at=now, title="", alias_of=canonical_id))
        return True
    if study.alias_of == canonical_id:
        return False
    study.alias_of = canonical_id
    return True


def update_memberships(
    session: Session,
    watchlist: str,
    members: dict[str, str],
    *,
    now: datetime | None = None,
    mark_left: bool = True,
) -> list[str]:
    """Record which trials ``watchlist`` watches now (nct_id -> "id" | "query").

    Returns the ids that were found by a query before and are not watched any more: they left the
    query, and the caller reports that once. With ``mark_left=False`` (a query failed or was cut
    off, so ``members`` may be incomplete) nobody is marked as having left.
    """
    now = now or utcnow()
    existing = {
        row.nct_id: row
        for row in session.scalars(select(WatchlistTrial).where(WatchlistTrial.watchlist == watchlist))
    }
    left: list[str] = []
    for nct_id, via in members.items():
        row = existing.get(nct_id)
        if row is None:
            session.add(
                WatchlistTrial(
                    watchlist=watchlist, nct_id=nct_id, via=via, first_seen_at=now, last_seen_at=now
                )
            )
        else:
            row.via, row.last_seen_at, row.left_at = via, now, None
    for nct_id, row in existing.items():
        if mark_left and nct_id not in members and row.left_at is None:
            row.left_at = now
            if row.via == "query":
                left.append(nct_id)
    return left


def start_sync_run(
    session: Session, *, data_timestamp: str | None, requested: int, scope: str = "full"
) -> int:
    """Open a sync run. Runs still "running" are closed as failed: their tasks died before finishing."""
    session.execute(
        update(SyncRun)
        .where(SyncRun.status == "running")
        .values(status="failed", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    run = SyncRun(
        started_at=utcnow(),
        data_timestamp=data_timestamp,
        studies_requested=requested,
        scope=scope,
        failures=[],
        notes=[],
    )
    session.add(run)
    session.flush()
    return run.id


def add_to_sync_run(
    session: Session,
    run_id: int,
    *,
    fetched: int = 0,
    versions: int = 0,
    events: int = 0,
    failures: Sequence[dict[str, str]] = (),
    notes: Sequence[str] = (),
) -> None:
    """Add one batch's figures to its sync run. Mapped batches call this concurrently."""
    session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(
            studies_fetched=SyncRun.studies_fetched + fetched,
            versions_added=SyncRun.versions_added + versions,
            events_added=SyncRun.events_added + events,
        )
    )
    if failures or notes:
        run = session.scalars(select(SyncRun).where(SyncRun.id == run_id).with_for_update()).one()
        run.failures = [*run.failures, *failures]
        run.notes = sorted({*run.notes, *notes})


def finish_sync_run(session: Session, run_id: int) -> SyncRun:
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"sync run {run_id} is not in the store")
    run.finished_at = utcnow()
    run.status = "partial" if run.failures else "ok"
    return run


def last_data_timestamp(session: Session) -> str | None:
    """The registry data build the last full sync saw, if it fetched most watched trials.

    A manual run for a few trials, or a run that lost most of its trials to registry errors, does
    not count: the next scheduled check syncs that build again.
    """
    return session.scalar(
        select(SyncRun.data_timestamp)
        .where(
            SyncRun.scope == "full",
            SyncRun.status.in_(("ok", "partial")),
            SyncRun.studies_fetched * 2 >= SyncRun.studies_requested,
        )
        .order_by(SyncRun.started_at.desc())
        .limit(1)
    )
