"""Reads and writes of the snapshot store that the pipeline needs.

Every write a sync makes for one study happens in one transaction: the new versions, their change
events and the study's current state land together or not at all. Versions and events carry unique
keys, so a transaction that would store one a second time fails as a whole (``is_duplicate``) and the
caller treats that as "already recorded".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trialwatch import records
from trialwatch.events import SEVERITY_RANK, ChangeEvent
from trialwatch.store.chunks import in_chunks
from trialwatch.store.codec import decode_record, encode_record, posted_of
from trialwatch.store.models import (
    ChangeEventRow,
    Study,
    StudyVersion,
    SyncRun,
    WatchlistTrial,
    event_key,
    version_key,
)

# The unique constraints that say "this version or event is already stored" (PostgreSQL names the
# constraint, SQLite its columns); a new trial's row that another sync inserted first says the same.
_DUPLICATE_MARKERS = (
    "uq_study_versions_version",
    "uq_change_events_key",
    "studies_pkey",
    "study_versions.version_key",
    "change_events.event_key",
    "UNIQUE constraint failed: studies.nct_id",
    "trial stored first by another sync",  # store.backfill.StoredMeanwhile
)


def is_duplicate(exc: IntegrityError) -> bool:
    """True if ``exc`` is a version or event that another sync stored first (not any other fault)."""
    return any(marker in str(exc.orig) for marker in _DUPLICATE_MARKERS)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class NewVersion:
    """One version of a record about to be stored, with the events that lead to it."""

    study: Mapping[str, Any]
    content_hash: str
    events: list[ChangeEvent]
    registry_version: int | None = None
    registry_version_date: str | None = None
    source: str = "current"
    backfill: bool = False
    # records.quick_hash of the fetched record, for the version that is the record as served.
    quick_hash: str | None = None
    # The record's JSON as served, where the fetch kept it: stored as it is, not encoded again.
    served_json: bytes | None = None
    # Where only part of the record was decoded (``registry.served``): the modules its overview reads.
    outline: dict[str, Any] | None = None

    @property
    def shown_record(self) -> Mapping[str, Any]:
        """What the store reads for the trial's overview columns and posting date: the outline where
        there is one, so a record stored as served is not decoded for them."""
        return self.study if self.outline is None else self.outline

    def stored_record(self) -> dict[str, Any]:
        """The ``study_versions`` columns that hold the record: its stored bytes (as served where the
        fetch kept them) and its posting date, for store_versions and store_batch alike."""
        return {
            "record": encode_record(self.study, served=self.served_json),
            "posted": posted_of(self.shown_record),
        }


# A version stored without its content hash holds this prefix and its record's quick hash instead.
# Making the canonical form is most of the cost of storing a new trial, and nothing needs its hash
# until a later fetch differs in its quick hash: that fetch makes the stored version's canonical form
# anyway (to diff against it) and then puts the real hash in (``resolve_hash``). Equal quick hashes
# mean equal content, so the unique key on (trial, content hash, version key) still stops a record
# stored twice by two racing syncs; a new trial's ``studies`` row stops the rest.
PENDING_HASH = "quick:"


def pending_hash(quick: str) -> str:
    """The content hash a version carries until it is needed (fits the 64-character column)."""
    return PENDING_HASH + quick[: 64 - len(PENDING_HASH)]


def is_pending(content_hash: str | None) -> bool:
    return content_hash is not None and content_hash.startswith(PENDING_HASH)


@dataclass(frozen=True)
class Stored:
    """What the batch gate needs of a stored trial (``exists``: a ``studies`` row, maybe no version)."""

    current_version_id: int | None
    current_hash: str | None
    quick_hash: str | None


def gate_state(session: Session, nct_ids: Iterable[str]) -> dict[str, Stored]:
    """nct_id -> its stored state, for every id with a ``studies`` row, in one query."""
    ids = list(nct_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Study.nct_id, Study.current_version_id, Study.current_hash, Study.quick_hash).where(
            Study.nct_id.in_(ids)
        )
    )
    return {nct_id: Stored(version_id, content, quick) for nct_id, version_id, content, quick in rows}


@dataclass(frozen=True)
class StoredVersion:
    id: int
    content_hash: str
    registry_version: int | None
    registry_version_date: str | None
    study: dict[str, Any]


def versions_by_id(session: Session, version_ids: Iterable[int]) -> dict[int, StoredVersion]:
    """Stored versions with their records, in one query."""
    ids = list(version_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            StudyVersion.id,
            StudyVersion.content_hash,
            StudyVersion.registry_version,
            StudyVersion.registry_version_date,
            StudyVersion.record,
        ).where(StudyVersion.id.in_(ids))
    )
    return {row[0]: StoredVersion(*row[:4], decode_record(row[4])) for row in rows}


def resolve_hashes(session: Session, resolved: dict[int, tuple[str, str, str]]) -> None:
    """Put real content hashes in for pending ones: version id -> (nct_id, pending hash, real hash)."""
    if not resolved:
        return
    connection = session.connection()
    versions, studies = StudyVersion.__table__, Study.__table__
    params = [
        {"b_id": vid, "b_nct": nct_id, "b_pending": pending, "b_real": real}
        for vid, (nct_id, pending, real) in resolved.items()
    ]
    connection.execute(
        update(versions)
        .where(versions.c.id == bindparam("b_id"), versions.c.content_hash == bindparam("b_pending"))
        .values(content_hash=bindparam("b_real")),
        params,
    )
    connection.execute(
        update(studies)
        .where(studies.c.nct_id == bindparam("b_nct"), studies.c.current_hash == bindparam("b_pending"))
        .values(current_hash=bindparam("b_real")),
        params,
    )


def current_version_id(session: Session, nct_id: str) -> int | None:
    """The trial's current version id, its ``studies`` row locked until the transaction ends."""
    study = session.get(Study, nct_id, with_for_update=True)
    return study.current_version_id if study is not None else None


def current_version(session: Session, nct_id: str) -> tuple[Study | None, StudyVersion | None]:
    study = session.get(Study, nct_id)
    if study is None or study.current_version_id is None:
        return study, None
    return study, session.get(StudyVersion, study.current_version_id)


def current_hashes(session: Session, nct_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """nct_id -> (current content hash, quick hash) for every stored id, in one query.

    Reads two columns of ``studies``: no version row and no stored JSON is loaded.
    """
    ids = list(nct_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Study.nct_id, Study.current_hash, Study.quick_hash).where(
            Study.nct_id.in_(ids), Study.current_hash.is_not(None)
        )
    )
    return {nct_id: (content_hash, quick) for nct_id, content_hash, quick in rows}


def mark_unchanged(
    session: Session, quick_hashes: dict[str, tuple[str, str | None]], *, now: datetime | None = None
) -> None:
    """Mark fetched records unchanged: nct_id -> (content hash, quick hash to keep, or None).

    None: the stored quick hash matched, so only the fetch is recorded, in one statement for all.
    A new quick hash is kept only where the current version still has that content hash, so a
    version stored meanwhile by another sync is never paired with a stale quick hash.
    """
    now = now or utcnow()
    touch_fetched(session, [nct_id for nct_id, (_, quick) in quick_hashes.items() if quick is None], now=now)
    new_quick = {nct_id: pair for nct_id, pair in quick_hashes.items() if pair[1] is not None}
    if not new_quick:
        return
    table = Study.__table__  # Core, so the list of parameters runs as one executemany
    session.connection().execute(
        update(table)
        .where(table.c.nct_id == bindparam("b_id"), table.c.current_hash == bindparam("b_hash"))
        .values(quick_hash=bindparam("b_quick"), last_fetched_at=now, gone_at=None),
        [
            {"b_id": nct_id, "b_hash": content, "b_quick": quick}
            for nct_id, (content, quick) in new_quick.items()
        ],
    )


def touch_fetched(session: Session, nct_ids: Iterable[str], *, now: datetime | None = None) -> None:
    ids = list(nct_ids)
    if ids:
        session.execute(
            update(Study).where(Study.nct_id.in_(ids)).values(last_fetched_at=now or utcnow(), gone_at=None)
        )


def event_row(
    event: ChangeEvent,
    version_id: int | None = None,
    now: datetime | None = None,
    backfill: bool = False,
    occurrence: int | None = None,
) -> ChangeEventRow:
    """The table row for one event (the inverse of ``event_from_row``).

    ``occurrence``: how many events of this trial, version, path and field were stored before it
    (None: counted from the store when the row is inserted).
    """
    row = ChangeEventRow(
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
    if occurrence is not None:
        row.event_key = event_key(event.nct_id, version_id, event.path, event.field, occurrence)
    return row


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
    study = session.get(Study, nct_id, with_for_update=True)
    if study is None:
        study = Study(nct_id=nct_id, first_seen_at=now, title="")
        session.add(study)
    written = 0
    after_id = study.current_version_id
    for version in versions:
        row = StudyVersion(
            nct_id=nct_id,
            content_hash=version.content_hash,
            version_key=version_key(version.registry_version, after_id),
            registry_version=version.registry_version,
            registry_version_date=version.registry_version_date,
            data_timestamp=data_timestamp,
            fetched_at=now,
            source=version.source,
            **version.stored_record(),
        )
        session.add(row)
        session.flush()
        seen: dict[tuple[str, str], int] = {}
        for event in version.events:
            occurrence = seen.get((event.path, event.field), 0)
            seen[(event.path, event.field)] = occurrence + 1
            session.add(event_row(event, row.id, now, version.backfill, occurrence))
        session.flush()
        written += len(version.events)
        after_id = row.id
        study.current_version_id = row.id
        study.current_hash = version.content_hash
        study.quick_hash = version.quick_hash
        study.registry_version = version.registry_version
        newsworthy = [] if version.backfill else version.events
        if newsworthy:
            study.last_changed_at = now
            study.last_change_severity = _highest(newsworthy)
    if versions:
        for name, value in _shown(versions[-1]).items():
            setattr(study, name, value)
    study.last_fetched_at = now
    study.gone_at = None
    return written


@dataclass
class StudyWrite:
    """One trial's new current version for ``store_batch``: it follows ``after_id`` (None: the first)."""

    nct_id: str
    version: NewVersion
    after_id: int | None
    has_row: bool  # the trial has a ``studies`` row already (an alias or a left query made one)


def store_batch(
    session: Session,
    writes: Sequence[StudyWrite],
    *,
    data_timestamp: str | None,
    now: datetime | None = None,
) -> dict[str, int]:
    """``store_versions`` for a whole batch: one statement per table and kind of write.

    Returns nct_id -> events written. A unique key broken by any write fails the whole statement
    (``WriteConflict``); the caller then stores the batch trial by trial.

    A new trial's ``studies`` row is inserted with what the overview shows already in it, and
    afterwards only given its version: an UPDATE of the sorted columns would rewrite every sort
    index entry and the title index again (on SQLite, a third of a registry-wide first sync).
    """
    if not writes:
        return {}
    now = now or utcnow()
    connection = session.connection()
    studies, versions, events = Study.__table__, StudyVersion.__table__, ChangeEventRow.__table__
    shown = {w.nct_id: _shown(w.version) for w in writes}
    fresh = [
        {"nct_id": w.nct_id, "first_seen_at": now, "last_fetched_at": now, **shown[w.nct_id]}
        for w in writes
        if not w.has_row
    ]
    if fresh:
        connection.execute(insert(studies), fresh)
    # One trial per write, so the trial tells the rows apart: unordered RETURNING is one statement
    # on SQLite, where an ordered one is a statement per row.
    version_ids = dict(
        connection.execute(
            insert(versions).returning(versions.c.nct_id, versions.c.id),
            [
                {
                    "nct_id": w.nct_id,
                    "content_hash": w.version.content_hash,
                    "version_key": version_key(w.version.registry_version, w.after_id),
                    "registry_version": w.version.registry_version,
                    "registry_version_date": w.version.registry_version_date,
                    "data_timestamp": data_timestamp,
                    "fetched_at": now,
                    "source": w.version.source,
                    **w.version.stored_record(),
                }
                for w in writes
            ],
        ).all()
    )
    event_rows: list[dict[str, Any]] = []
    written: dict[str, int] = {}
    moved: list[dict[str, Any]] = []  # trials that had a row: everything shown may have changed
    placed: list[dict[str, Any]] = []  # new trials: their row shows the version already
    news: list[dict[str, Any]] = []
    for w in writes:
        version, version_id = w.version, version_ids[w.nct_id]
        seen: dict[tuple[str, str], int] = {}
        for event in version.events:
            occurrence = seen.get((event.path, event.field), 0)
            seen[(event.path, event.field)] = occurrence + 1
            event_rows.append(_event_values(event, version_id, now, version.backfill, occurrence))
        written[w.nct_id] = len(version.events)
        current = {
            "b_id": w.nct_id,
            "b_version": version_id,
            "b_hash": version.content_hash,
            "b_quick": version.quick_hash,
            "b_registry_version": version.registry_version,
        }
        if w.has_row:
            moved.append(current | {f"b_{name}": value for name, value in shown[w.nct_id].items()})
        else:
            placed.append(current)
        if version.events and not version.backfill:
            news.append({"b_id": w.nct_id, "b_severity": _highest(version.events)})
    if event_rows:
        connection.execute(insert(events), event_rows)
    current_values = {
        "current_version_id": bindparam("b_version"),
        "current_hash": bindparam("b_hash"),
        "quick_hash": bindparam("b_quick"),
        "registry_version": bindparam("b_registry_version"),
    }
    by_id = studies.c.nct_id == bindparam("b_id")
    if placed:
        connection.execute(update(studies).where(by_id).values(current_values), placed)
    if moved:
        shown_values = {name: bindparam(f"b_{name}") for name in _SHOWN}
        fetched = {"last_fetched_at": now, "gone_at": None}
        connection.execute(
            update(studies).where(by_id).values(current_values | shown_values | fetched), moved
        )
    if news:
        connection.execute(
            update(studies)
            .where(by_id)
            .values(last_changed_at=now, last_change_severity=bindparam("b_severity")),
            news,
        )
    return written


# The ``studies`` columns that show a trial's current version in the overview (see ``_shown``).
_SHOWN = ("title", "overall_status", "enrollment_count", "enrollment_type", "last_posted")


def _shown(version: NewVersion) -> dict[str, Any]:
    """What the overview shows of a trial whose current version is ``version``: its ``studies`` columns,
    for store_versions and store_batch alike. The posting date is kept there so the overview sorts
    by an index."""
    study = version.shown_record
    count, kind = records.enrollment(study)
    return {
        "title": records.brief_title(study),
        "overall_status": records.overall_status(study),
        "enrollment_count": count,
        "enrollment_type": kind,
        "last_posted": version.registry_version_date or records.last_update_posted(study),
    }


def _event_values(
    event: ChangeEvent, version_id: int | None, now: datetime, backfill: bool, occurrence: int
) -> dict[str, Any]:
    """The ``change_events`` row of one event, as Core values (see ``event_row``)."""
    return {
        "nct_id": event.nct_id,
        "version_id": version_id,
        "category": event.category,
        "field": event.field,
        "path": event.path,
        "old": event.old,
        "new": event.new,
        "severity": event.severity,
        "detail": event.detail,
        "old_version": event.old_version,
        "new_version": event.new_version,
        "old_version_date": event.old_version_date,
        "new_version_date": event.new_version_date,
        "old_hash": event.old_hash,
        "new_hash": event.new_hash,
        "extra": event.extra or None,
        "backfill": backfill,
        "detected_at": now,
        "event_key": event_key(event.nct_id, version_id, event.path, event.field, occurrence),
    }


def add_study_events(
    session: Session, nct_id: str, events: Sequence[ChangeEvent], *, now: datetime | None = None
) -> None:
    """Events that belong to no new version (record gone, alias, left a query)."""
    now = now or utcnow()
    study = session.get(Study, nct_id, with_for_update=True)
    if study is None:
        study = Study(nct_id=nct_id, first_seen_at=now, title="")
        session.add(study)
        session.flush()
    for event in events:
        # The n-th such event of this trial: two syncs reporting the same one collide on its key.
        occurrence = session.scalar(
            select(func.count())
            .select_from(ChangeEventRow)
            .where(
                ChangeEventRow.nct_id == nct_id,
                ChangeEventRow.version_id.is_(None),
                ChangeEventRow.path == event.path,
                ChangeEventRow.field == event.field,
            )
        )
        session.add(event_row(event, None, now, occurrence=occurrence or 0))
        session.flush()
    if events:
        study.last_changed_at = now
        study.last_change_severity = _highest(events)


def ever_stored(session: Session, nct_id: str) -> bool:
    """True if a version of ``nct_id`` was ever stored: only then can the record be "gone"."""
    study = session.get(Study, nct_id)
    return study is not None and study.current_version_id is not None


def mark_gone(session: Session, nct_id: str, *, now: datetime | None = None) -> bool:
    """Mark a stored record the registry now answers 404 for. True the first time (reported once).

    A trial never stored is not gone: the caller reports it as "not found in the registry".
    """
    now = now or utcnow()
    study = session.get(Study, nct_id, with_for_update=True)
    if study is None or study.current_version_id is None:
        raise LookupError(f"{nct_id} was never stored, so it cannot be gone")
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

    Core statements over id chunks, never one object per member: a registry-wide watchlist has
    hundreds of thousands of them.
    """
    now = now or utcnow()
    table = WatchlistTrial.__table__
    existing = {
        nct_id: (via, left_at)
        for nct_id, via, left_at in session.execute(
            select(table.c.nct_id, table.c.via, table.c.left_at).where(table.c.watchlist == watchlist)
        )
    }
    new = [
        {"watchlist": watchlist, "nct_id": nct_id, "via": via, "first_seen_at": now, "last_seen_at": now}
        for nct_id, via in members.items()
        if nct_id not in existing
    ]
    for rows in in_chunks(new):
        session.execute(insert(table), rows)
    by_via: dict[str, list[str]] = {}
    for nct_id, via in members.items():
        if nct_id in existing:
            by_via.setdefault(via, []).append(nct_id)
    for via, ids in by_via.items():
        for chunk in in_chunks(ids):
            session.execute(
                update(table)
                .where(table.c.watchlist == watchlist, table.c.nct_id.in_(chunk))
                .values(via=via, last_seen_at=now, left_at=None)
            )
    gone = [
        nct_id
        for nct_id, (_, left_at) in existing.items()
        if mark_left and nct_id not in members and left_at is None
    ]
    for chunk in in_chunks(gone):
        session.execute(
            update(table).where(table.c.watchlist == watchlist, table.c.nct_id.in_(chunk)).values(left_at=now)
        )
    return sorted(nct_id for nct_id in gone if existing[nct_id][0] == "query")


DIED = "the sync stopped before it finished (its process or the store went away); closed by sync run {}"


def start_sync_run(
    session: Session,
    *,
    data_timestamp: str | None,
    requested: int,
    scope: str = "full",
    watchlist_fingerprint: str | None = None,
) -> int:
    """Open a sync run. Runs still "running" are closed as failed: their tasks died before finishing.

    The caller holds the sync lease, so no other run is still working.
    """
    run = SyncRun(
        started_at=utcnow(),
        data_timestamp=data_timestamp,
        studies_requested=requested,
        scope=scope,
        watchlist_fingerprint=watchlist_fingerprint,
        failures=[],
        notes=[],
    )
    session.add(run)
    session.flush()
    for dead in session.scalars(select(SyncRun).where(SyncRun.status == "running", SyncRun.id != run.id)):
        dead.status, dead.finished_at = "failed", utcnow()
        dead.failures = [*(dead.failures or []), {"nct_id": "", "error": DIED.format(run.id)}]
    return run.id


def record_ended_run(
    session: Session,
    *,
    status: str,
    reason: str,
    scope: str = "full",
    data_timestamp: str | None = None,
    started_at: datetime | None = None,
) -> int:
    """A run that ended before it could work: "failed" (with its reason) or "skipped" (another sync ran)."""
    now = utcnow()
    failures = [{"nct_id": "", "error": reason}] if status == "failed" else []
    notes = [reason] if status != "failed" else []
    run = SyncRun(
        started_at=started_at or now,
        finished_at=now,
        status=status,
        scope=scope,
        data_timestamp=data_timestamp,
        studies_requested=0,
        failures=failures,
        notes=notes,
    )
    session.add(run)
    session.flush()
    return run.id


def describe_sync_run(
    session: Session,
    run_id: int,
    *,
    data_timestamp: str | None,
    studies_requested: int,
    watchlist_fingerprint: str | None,
    scope: str | None = None,
) -> None:
    """What a planned run is about: the registry's data build, how many trials, which watchlists,
    and its scope once the plan decided it (full or incremental)."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"no sync run {run_id} in the store")
    run.data_timestamp, run.studies_requested = data_timestamp, studies_requested
    run.watchlist_fingerprint = watchlist_fingerprint
    if scope is not None:
        run.scope = scope


def sync_run_data_timestamp(session: Session, run_id: int) -> str | None:
    """The registry data build a planned run reads."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"no sync run {run_id} in the store")
    return run.data_timestamp


def fail_sync_run(session: Session, run_id: int, reason: str) -> None:
    """Close a run that cannot go on, with its reason (shown on the health page and in digests)."""
    run = session.get(SyncRun, run_id)
    if run is None or run.status != "running":
        return
    run.status, run.finished_at = "failed", utcnow()
    run.failures = [*(run.failures or []), {"nct_id": "", "error": reason}]


# Runs that sync the day's data build (the others fetch given or never-stored trials only).
DAILY_SCOPES = ("full", "incremental")


def last_watchlist_fingerprint(session: Session) -> str | None:
    """The watchlists the last finished run that resolved them saw (full, incremental or new-trials run)."""
    return session.scalar(
        select(SyncRun.watchlist_fingerprint)
        .where(
            SyncRun.scope.in_((*DAILY_SCOPES, "new")),
            SyncRun.status.in_(("ok", "partial")),
            SyncRun.watchlist_fingerprint.is_not(None),
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )


def never_fetched(session: Session, nct_ids: Iterable[str]) -> list[str]:
    """Those of ``nct_ids`` with no stored version, in order (a never-existing id stays in this list)."""
    ids = list(dict.fromkeys(nct_ids))
    stored = (
        set(
            session.scalars(
                select(Study.nct_id).where(Study.nct_id.in_(ids), Study.current_version_id.is_not(None))
            )
        )
        if ids
        else set()
    )
    return [nct_id for nct_id in ids if nct_id not in stored]


def reported_not_found(session: Session) -> set[str]:
    """Ids the last finished sync run reported as not found in the registry."""
    run = session.scalar(
        select(SyncRun)
        .where(SyncRun.finished_at.is_not(None), SyncRun.status.in_(("ok", "partial")))
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )
    if run is None:
        return set()
    return {
        str(failure.get("nct_id"))
        for failure in run.failures or []
        if isinstance(failure, dict) and failure.get("error") == NOT_FOUND
    }


NOT_FOUND = "not found in the registry (never stored: check the id in the watchlist)"


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
    if run.status != "running":  # closed meanwhile (its lease expired and another run took over)
        return run
    run.finished_at = utcnow()
    run.status = "partial" if run.failures else "ok"
    return run


def _synced(scopes: Sequence[str]) -> Any:
    """Finished runs of ``scopes`` that fetched most of what they planned, newest first.

    A manual run for a few trials, or a run that lost most of its trials to registry errors, does
    not count: the next scheduled check syncs that build again.
    """
    return (
        select(SyncRun)
        .where(
            SyncRun.scope.in_(scopes),
            SyncRun.status.in_(("ok", "partial")),
            SyncRun.studies_fetched * 2 >= SyncRun.studies_requested,
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )


def last_data_timestamp(session: Session) -> str | None:
    """The registry data build the last full or incremental sync saw, if it fetched most of its trials."""
    run = session.scalar(_synced(DAILY_SCOPES))
    return run.data_timestamp if run is not None else None


@dataclass(frozen=True)
class Reconciliation:
    """The last full sync: the data build it read and the watchlists it resolved."""

    run_id: int
    data_timestamp: str | None
    watchlist_fingerprint: str | None


def last_reconciliation(session: Session) -> Reconciliation | None:
    """The last full sync that fetched most watched trials, or None before the first one."""
    run = session.scalar(_synced(("full",)))
    if run is None:
        return None
    return Reconciliation(run.id, run.data_timestamp, run.watchlist_fingerprint)


def watched_never_fetched(session: Session) -> list[str]:
    """Trials a watchlist watches (and has not dropped) with no stored version, in id order."""
    return list(
        session.scalars(
            select(WatchlistTrial.nct_id)
            .distinct()
            .outerjoin(Study, Study.nct_id == WatchlistTrial.nct_id)
            .where(WatchlistTrial.left_at.is_(None), Study.current_version_id.is_(None))
            .order_by(WatchlistTrial.nct_id)
        )
    )


def watchlists_of(session: Session, nct_ids: Iterable[str]) -> dict[str, list[str]]:
    """nct_id -> the watchlists that watch it now, by stored membership."""
    ids = list(dict.fromkeys(nct_ids))
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(WatchlistTrial.nct_id, WatchlistTrial.watchlist).where(
                WatchlistTrial.nct_id.in_(ids[start : start + 500]), WatchlistTrial.left_at.is_(None)
            )
        )
        for nct_id, watchlist in rows:
            found.setdefault(nct_id, []).append(watchlist)
    return found


def found_by_query(session: Session, watchlist: str) -> list[str]:
    """Trials ``watchlist`` watches because one of its queries found them (not listed, not left), in id order."""
    return list(
        session.scalars(
            select(WatchlistTrial.nct_id)
            .where(
                WatchlistTrial.watchlist == watchlist,
                WatchlistTrial.via == "query",
                WatchlistTrial.left_at.is_(None),
            )
            .order_by(WatchlistTrial.nct_id)
        )
    )


def failed_last_time(session: Session) -> list[str]:
    """Trials the last finished full or incremental run could not fetch or store (not the ones the
    registry does not have): an incremental run fetches them again, whatever their update date."""
    run = session.scalar(
        select(SyncRun)
        .where(SyncRun.scope.in_(DAILY_SCOPES), SyncRun.status.in_(("ok", "partial")))
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )
    if run is None:
        return []
    failed = (
        str(failure.get("nct_id") or "")
        for failure in run.failures or []
        if isinstance(failure, dict) and failure.get("error") != NOT_FOUND
    )
    return list(dict.fromkeys(nct_id for nct_id in failed if records.NCT_RE.fullmatch(nct_id)))
