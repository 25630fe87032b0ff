"""Read-only queries behind the Trial Watch pages and API, returning typed records.

Every list is paginated in SQL (LIMIT/OFFSET over an indexed ORDER BY) so a page costs the same
with ten trials or the whole registry. The registry record's fields come from ``trialwatch.records``;
turning these records into JSON or HTML is the UI's business.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, case, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from trialwatch.events import SEVERITY_RANK, compare_url, history_url, study_url
from trialwatch.records import CurrentFacts, current_facts
from trialwatch.store.codec import decode_record
from trialwatch.store.findings import has_open_finding
from trialwatch.store.models import (
    ChangeEventRow,
    DigestOutbox,
    Study,
    StudyVersion,
    SyncRun,
    WatchlistTrial,
    version_order,
)

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50

_SEVERITY_ORDER = case(SEVERITY_RANK, value=Study.last_change_severity, else_=0)


def _posted(version: Any) -> Any:
    """The registry's posting date of a stored version: from its history entry, else from the record."""
    return func.coalesce(version.registry_version_date, version.posted)


# A trial's current version, whose posting date is when the registry published its last change.
_CURRENT = aliased(StudyVersion, name="current_version")
_CURRENT_POSTED = _posted(_CURRENT)

# Sort keys a client may ask for, each with a unique tie-breaker so pages never overlap.
# "last_change" is the registry's date; "detected" is when a sync of ours noticed it.
OVERVIEW_SORTS: dict[str, Sequence[Any]] = {
    "last_change": (_CURRENT_POSTED, Study.last_changed_at, WatchlistTrial.nct_id),
    "detected": (Study.last_changed_at, WatchlistTrial.nct_id),
    "nct_id": (WatchlistTrial.nct_id,),
    "title": (Study.title, WatchlistTrial.nct_id),
    "status": (Study.overall_status, WatchlistTrial.nct_id),
    "enrollment": (Study.enrollment_count, WatchlistTrial.nct_id),
    "severity": (_SEVERITY_ORDER, Study.last_changed_at, WatchlistTrial.nct_id),
    "watchlist": (WatchlistTrial.watchlist, WatchlistTrial.nct_id),
}

T = TypeVar("T")


class NotFound(LookupError):
    """The requested trial or digest is not in the store."""


@dataclass(frozen=True)
class PageRequest:
    """A 1-based page number and a bounded page size."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValueError(f"page must be 1 or more, got {self.page}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {self.per_page}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, with the numbers a pager needs."""

    items: list[T]
    page: int
    per_page: int
    total: int
    pages: int


def _page(request: PageRequest, total: int, items: list[T]) -> Page[T]:
    pages = max(1, -(-total // request.per_page))
    return Page(items=items, page=request.page, per_page=request.per_page, total=total, pages=pages)


@dataclass(frozen=True)
class WatchlistCount:
    name: str
    trials: int


@dataclass(frozen=True)
class StudySummary:
    nct_id: str
    title: str | None
    overall_status: str | None
    enrollment_count: int | None
    enrollment_type: str | None
    last_changed_at: datetime | None  # when a sync detected the last change
    last_change_severity: str | None
    gone: bool
    study_url: str
    last_posted: str | None = None  # the registry's posting date of the current version


@dataclass(frozen=True)
class OverviewRow:
    """A trial as a member of one watchlist."""

    watchlist: str
    via: str | None
    study: StudySummary


@dataclass(frozen=True)
class EventRecord:
    id: int
    category: str
    field: str
    path: str
    old: Any
    new: Any
    severity: str
    detail: str
    old_version: int | None
    new_version: int | None
    old_version_date: str | None
    new_version_date: str | None
    backfill: bool
    detected_at: datetime | None
    compare_url: str
    # An aggregated event: how many elements changed alike, and one line per element (else 1 and []).
    count: int = 1
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimelineVersion:
    """A stored version with the events that led to it (most severe first)."""

    version_id: int
    registry_version: int | None
    registry_version_date: str | None
    posted: str | None  # the registry's posting date (history entry, else the record's own)
    data_timestamp: str | None
    fetched_at: datetime | None
    source: str | None
    content_hash: str
    current: bool
    events: list[EventRecord]
    compare_url: str | None


@dataclass(frozen=True)
class Membership:
    name: str
    via: str | None
    first_seen_at: datetime | None
    left_at: datetime | None


@dataclass(frozen=True)
class TrialDetail:
    study: StudySummary
    registry_version: int | None
    first_seen_at: datetime | None
    last_fetched_at: datetime | None
    gone_at: datetime | None
    alias_of: str | None
    history_url: str
    current: CurrentFacts
    watchlists: list[Membership]
    timeline: list[TimelineVersion]
    other_events: list[EventRecord]  # not tied to a stored version (a trial leaving a query)
    event_count: int


@dataclass(frozen=True)
class DigestSummary:
    id: int
    watchlist: str
    period_key: str
    recipient: str
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    event_count: int | None
    created_at: datetime | None
    sent_at: datetime | None


@dataclass(frozen=True)
class StoredDigest:
    summary: DigestSummary
    message: str  # the RFC 5322 message as stored


@dataclass(frozen=True)
class SyncRunRecord:
    id: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    status: str | None
    data_timestamp: str | None
    studies_requested: int | None
    studies_fetched: int | None
    versions_added: int | None
    events_added: int | None
    failures: list[Any]
    notes: list[Any]


@dataclass(frozen=True)
class StoreTotals:
    trials: int
    versions: int
    events: int
    digests: int


@dataclass(frozen=True)
class PipelineHealth:
    runs: Page[SyncRunRecord]
    last_ok: SyncRunRecord | None
    totals: StoreTotals


def _ordered(columns: Sequence[Any], descending: bool) -> list[Any]:
    # NULLs last either way: a trial that never changed sorts after those that did. The last
    # column is the unique tie-breaker, always ascending.
    *keys, tie = columns
    return [(column.desc() if descending else column.asc()).nulls_last() for column in keys] + [tie.asc()]


def _study_summary(study: Study, posted: str | None = None) -> StudySummary:
    return StudySummary(
        nct_id=study.nct_id,
        title=study.title,
        overall_status=study.overall_status,
        enrollment_count=study.enrollment_count,
        enrollment_type=study.enrollment_type,
        last_changed_at=study.last_changed_at,
        last_change_severity=study.last_change_severity,
        gone=study.gone_at is not None,
        study_url=study_url(study.nct_id),
        last_posted=posted,
    )


def watchlist_counts(session: Session) -> list[WatchlistCount]:
    """Each watchlist with how many trials it watches now (trials that left a query are not counted)."""
    rows = session.execute(
        select(WatchlistTrial.watchlist, func.count())
        .where(WatchlistTrial.left_at.is_(None))
        .group_by(WatchlistTrial.watchlist)
        .order_by(WatchlistTrial.watchlist)
    )
    return [WatchlistCount(name, count) for name, count in rows]


def overview(
    session: Session,
    page: PageRequest,
    *,
    sort: str = "last_change",
    descending: bool = True,
    watchlist: str | None = None,
    finding: str | None = None,
) -> Page[OverviewRow]:
    """One page of (watchlist, trial) rows with each trial's current state and last change; with
    ``finding``, only trials with an open finding of that code ("any": of any code)."""
    if sort not in OVERVIEW_SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {sorted(OVERVIEW_SORTS)}")
    condition = WatchlistTrial.left_at.is_(None)
    if watchlist:
        condition = and_(condition, WatchlistTrial.watchlist == watchlist)
    if finding:
        code = None if finding == "any" else finding
        condition = and_(condition, has_open_finding(WatchlistTrial.nct_id, code))
    total = session.scalar(select(func.count()).select_from(WatchlistTrial).where(condition)) or 0
    query: Select[Any] = (
        select(WatchlistTrial.watchlist, WatchlistTrial.via, Study, _CURRENT_POSTED)
        .join(Study, Study.nct_id == WatchlistTrial.nct_id)
        .outerjoin(_CURRENT, _CURRENT.id == Study.current_version_id)
        .where(condition)
        .order_by(*_ordered(OVERVIEW_SORTS[sort], descending))
        .limit(page.per_page)
        .offset(page.offset)
    )
    items = [
        OverviewRow(name, via, _study_summary(study, posted))
        for name, via, study, posted in session.execute(query)
    ]
    return _page(page, total, items)


def search(session: Session, text: str, page: PageRequest) -> Page[StudySummary]:
    """Trials whose NCT id starts with ``text`` or whose title contains it (case-insensitive)."""
    needle = text.strip()
    if not needle:
        return _page(page, 0, [])
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    condition = or_(
        Study.nct_id.like(f"{escaped.upper()}%", escape="\\"),
        func.lower(Study.title).like(f"%{escaped.lower()}%", escape="\\"),
    )
    total = session.scalar(select(func.count()).select_from(Study).where(condition)) or 0
    # Exact id first, then the most recently changed.
    exact_first = case((Study.nct_id == needle.upper(), 0), else_=1)
    rows = session.execute(
        select(Study, _CURRENT_POSTED)
        .outerjoin(_CURRENT, _CURRENT.id == Study.current_version_id)
        .where(condition)
        .order_by(exact_first, Study.last_changed_at.desc().nulls_last(), Study.nct_id)
        .limit(page.per_page)
        .offset(page.offset)
    )
    return _page(page, total, [_study_summary(study, posted) for study, posted in rows])


def _event_record(row: ChangeEventRow) -> EventRecord:
    return EventRecord(
        id=row.id,
        category=row.category,
        field=row.field,
        path=row.path,
        old=row.old,
        new=row.new,
        severity=row.severity,
        detail=row.detail,
        old_version=row.old_version,
        new_version=row.new_version,
        old_version_date=row.old_version_date,
        new_version_date=row.new_version_date,
        backfill=bool(row.backfill),
        detected_at=row.detected_at,
        compare_url=compare_url(row.nct_id, row.old_version, row.new_version),
        count=int((row.extra or {}).get("count", 1)),
        members=tuple(str(member) for member in (row.extra or {}).get("members", [])),
    )


def trial(session: Session, nct_id: str) -> TrialDetail:
    """A trial's current state and its timeline: stored versions, newest first, each with its events."""
    nct_id = nct_id.strip().upper()
    study = session.get(Study, nct_id)
    if study is None:
        raise NotFound(f"trial {nct_id} is not in the store")
    current_raw = None
    if study.current_version_id is not None:
        current_raw = decode_record(
            session.scalar(select(StudyVersion.record).where(StudyVersion.id == study.current_version_id))
        )
    versions = session.execute(
        select(
            StudyVersion.id,
            StudyVersion.registry_version,
            StudyVersion.registry_version_date,
            _posted(StudyVersion).label("posted"),
            StudyVersion.data_timestamp,
            StudyVersion.fetched_at,
            StudyVersion.source,
            StudyVersion.content_hash,
        )
        .where(StudyVersion.nct_id == nct_id)
        .order_by(*version_order(newest_first=True))
    ).all()
    events = session.scalars(
        select(ChangeEventRow).where(ChangeEventRow.nct_id == nct_id).order_by(ChangeEventRow.id)
    ).all()
    by_version: dict[int | None, list[EventRecord]] = {}
    for event in events:
        by_version.setdefault(event.version_id, []).append(_event_record(event))
    for group in by_version.values():
        group.sort(key=lambda e: (-SEVERITY_RANK.get(e.severity, 0), e.id))

    timeline = []
    for version in versions:
        version_events = by_version.pop(version.id, [])
        older = {e.old_version for e in version_events if e.old_version is not None}
        timeline.append(
            TimelineVersion(
                version_id=version.id,
                registry_version=version.registry_version,
                registry_version_date=version.registry_version_date,
                posted=version.posted,
                data_timestamp=version.data_timestamp,
                fetched_at=version.fetched_at,
                source=version.source,
                content_hash=version.content_hash,
                current=version.id == study.current_version_id,
                events=version_events,
                compare_url=compare_url(nct_id, min(older) if older else None, version.registry_version)
                if version_events
                else None,
            )
        )
    unattached = [event for group in by_version.values() for event in group]
    memberships = session.execute(
        select(WatchlistTrial).where(WatchlistTrial.nct_id == nct_id).order_by(WatchlistTrial.watchlist)
    ).scalars()
    current_posted = next((v.posted for v in versions if v.id == study.current_version_id), None)
    return TrialDetail(
        study=_study_summary(study, current_posted),
        registry_version=study.registry_version,
        first_seen_at=study.first_seen_at,
        last_fetched_at=study.last_fetched_at,
        gone_at=study.gone_at,
        alias_of=study.alias_of,
        history_url=history_url(nct_id),
        current=current_facts(current_raw),
        watchlists=[Membership(m.watchlist, m.via, m.first_seen_at, m.left_at) for m in memberships],
        timeline=timeline,
        other_events=unattached,
        event_count=len(events),
    )


def _digest_summary(row: DigestOutbox) -> DigestSummary:
    return DigestSummary(
        id=row.id,
        watchlist=row.watchlist,
        period_key=row.period_key,
        recipient=row.recipient,
        subject=row.subject,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        event_count=row.event_count,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def digests(session: Session, page: PageRequest, *, watchlist: str | None = None) -> Page[DigestSummary]:
    """Digests in the outbox, newest first (without their message bodies)."""
    condition = DigestOutbox.watchlist == watchlist if watchlist else true()
    total = session.scalar(select(func.count()).select_from(DigestOutbox).where(condition)) or 0
    rows = session.scalars(
        select(DigestOutbox)
        .where(condition)
        .order_by(DigestOutbox.id.desc())
        .limit(page.per_page)
        .offset(page.offset)
    )
    return _page(page, total, [_digest_summary(row) for row in rows])


def digest(session: Session, digest_id: int) -> StoredDigest:
    """One digest as it was queued: its outbox row and the stored message."""
    row = session.get(DigestOutbox, digest_id)
    if row is None:
        raise NotFound(f"digest {digest_id} is not in the outbox")
    return StoredDigest(_digest_summary(row), row.message)


def _sync_run_record(run: SyncRun) -> SyncRunRecord:
    duration = (
        (run.finished_at - run.started_at).total_seconds()
        if run.finished_at is not None and run.started_at is not None
        else None
    )
    return SyncRunRecord(
        id=run.id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=duration,
        status=run.status,
        data_timestamp=run.data_timestamp,
        studies_requested=run.studies_requested,
        studies_fetched=run.studies_fetched,
        versions_added=run.versions_added,
        events_added=run.events_added,
        failures=run.failures or [],
        notes=run.notes or [],
    )


def health(session: Session, page: PageRequest) -> PipelineHealth:
    """Recent sync runs, newest first, plus the last successful one and store totals."""
    total = session.scalar(select(func.count()).select_from(SyncRun)) or 0
    runs = session.scalars(
        select(SyncRun)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(page.per_page)
        .offset(page.offset)
    )
    last_ok = session.scalar(
        select(SyncRun).where(SyncRun.status == "ok").order_by(SyncRun.started_at.desc()).limit(1)
    )
    return PipelineHealth(
        runs=_page(page, total, [_sync_run_record(run) for run in runs]),
        last_ok=_sync_run_record(last_ok) if last_ok is not None else None,
        totals=StoreTotals(
            trials=session.scalar(select(func.count()).select_from(Study)) or 0,
            versions=session.scalar(select(func.count()).select_from(StudyVersion)) or 0,
            events=session.scalar(select(func.count()).select_from(ChangeEventRow)) or 0,
            digests=session.scalar(select(func.count()).select_from(DigestOutbox)) or 0,
        ),
    )


@dataclass(frozen=True)
class VersionPoint:
    """A stored version's figures that the charts draw: status, enrollment and the three dates."""

    nct_id: str
    registry_version: int | None
    posted: str | None
    fetched_at: datetime | None
    overall_status: str | None
    enrollment_count: int | None
    enrollment_type: str | None
    start_date: str | None
    start_type: str | None
    primary_completion_date: str | None
    primary_completion_type: str | None
    completion_date: str | None
    completion_type: str | None


def _record_text(record: Any, *path: str) -> str | None:
    """The value at protocolSection.<path> as text, as SQL's JSON text extraction gives it."""
    value = record
    for key in ("protocolSection", *path):
        value = value.get(key) if isinstance(value, dict) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else json.dumps(value)


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def version_points(session: Session, nct_ids: Sequence[str]) -> dict[str, list[VersionPoint]]:
    """Each trial's stored versions, oldest first, reduced to the fields its charts need."""
    if not nct_ids:
        return {}
    status = ("statusModule",)
    rows = session.execute(
        select(
            StudyVersion.nct_id,
            StudyVersion.registry_version,
            _posted(StudyVersion),
            StudyVersion.fetched_at,
            StudyVersion.record,
        )
        .where(StudyVersion.nct_id.in_(list(nct_ids)))
        .order_by(StudyVersion.nct_id, *version_order())
    )
    points: dict[str, list[VersionPoint]] = {nct_id: [] for nct_id in nct_ids}
    for nct_id, number, posted, fetched, blob in rows:
        record = decode_record(blob)
        dates = [
            _record_text(record, *status, struct, part)
            for struct in ("startDateStruct", "primaryCompletionDateStruct", "completionDateStruct")
            for part in ("date", "type")
        ]
        points.setdefault(nct_id, []).append(
            VersionPoint(
                nct_id,
                number,
                posted,
                fetched,
                _record_text(record, *status, "overallStatus"),
                _as_int(_record_text(record, "designModule", "enrollmentInfo", "count")),
                _record_text(record, "designModule", "enrollmentInfo", "type"),
                *[None if value in (None, "") else str(value) for value in dates],
            )
        )
    return points
