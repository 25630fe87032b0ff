"""The store's side of findings: the records to evaluate, the open findings, their lifecycle, and the
selections the digest, the feed and Trial Watch show.

A finding row is opened by the sync run that first saw it and resolved by the first run that no
longer did; ``open_key`` (unique) keeps one open row per key. The digest reports a finding as new
when its opening run, and as resolved when its resolving run, lies after the recipient's findings
cursor (the highest run a previous digest covered), so each is reported once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from trialwatch.findings import Finding
from trialwatch.records import ENROLLMENT_UNKNOWN
from trialwatch.store.chunks import in_chunks
from trialwatch.store.codec import decode_record, record_json
from trialwatch.store.models import (
    FindingRow,
    Study,
    StudyVersion,
    SyncRun,
    WatchlistTrial,
    version_order,
)


@dataclass(frozen=True)
class StoredFinding:
    """A finding as stored: the finding, when it opened and resolved, and the runs that did it."""

    finding: Finding
    id: int
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    opened_run_id: int
    resolved_run_id: int | None

    @property
    def is_open(self) -> bool:
        return self.resolved_run_id is None


def _finding(row: FindingRow) -> Finding:
    return Finding(
        code=row.code,
        nct_id=row.nct_id,
        title=row.title,
        detail=row.detail,
        category=row.category,
        severity=row.severity,
        rule=row.rule,
        certainty=row.certainty,
        evidence=dict(row.evidence or {}),
        key=row.key,
    )


def _stored(row: FindingRow) -> StoredFinding:
    return StoredFinding(
        finding=_finding(row),
        id=row.id,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        resolved_at=row.resolved_at,
        opened_run_id=row.opened_run_id,
        resolved_run_id=row.resolved_run_id,
    )


def run_date(session: Session, run_id: int) -> date:
    """The date a run's records stand on: its registry data build's, else the day it started."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"no sync run {run_id}")
    if run.data_timestamp:
        return date.fromisoformat(run.data_timestamp[:10])
    return _aware(run.started_at).date()


def run_is_running(session: Session, run_id: int) -> bool:
    run = session.get(SyncRun, run_id)
    return run is not None and run.status == "running"


# findings_due of a trial whose findings do not depend on the date: after every as-of date
NEVER_DUE = "9999-12-31"


def watched_trial_ids(
    session: Session,
    *,
    changed_since: datetime | None = None,
    due_by: date | None = None,
    evaluated_by: int | None = None,
) -> list[str]:
    """Trials on some watchlist now (not left, not gone, not an alias) that have a stored version.

    ``changed_since``: only those whose current version was stored, or that joined a watchlist,
    at or after that instant; with ``due_by``, also those not evaluated yet or whose findings could
    have changed by that date (``Study.findings_due``). ``evaluated_by``: not those whose current
    version that run's batches evaluated already (``set_findings_due(in_batch_of=...)``).
    """
    query = (
        select(Study.nct_id)
        .join(WatchlistTrial, WatchlistTrial.nct_id == Study.nct_id)
        .where(
            WatchlistTrial.left_at.is_(None),
            Study.gone_at.is_(None),
            Study.alias_of.is_(None),
            Study.current_version_id.is_not(None),
        )
    )
    if changed_since is not None:
        current = StudyVersion.id == Study.current_version_id
        stored_since = exists().where(current, StudyVersion.fetched_at >= changed_since)
        wanted = [stored_since, WatchlistTrial.first_seen_at >= changed_since]
        if due_by is not None:
            wanted += [Study.findings_due.is_(None), Study.findings_due <= due_by.isoformat()]
        query = query.where(or_(*wanted))
    if evaluated_by is not None:
        # IS DISTINCT FROM, not a NOT over _evaluated_in_batch: that would drop unmarked trials (NULL)
        query = query.where(
            or_(
                Study.findings_run_id.is_distinct_from(evaluated_by),
                Study.findings_version_id.is_distinct_from(Study.current_version_id),
            )
        )
    return list(session.scalars(query.distinct().order_by(Study.nct_id)))


def _evaluated_in_batch(run_id: int) -> Any:
    return and_(Study.findings_run_id == run_id, Study.findings_version_id == Study.current_version_id)


def evaluated_in_batches(session: Session, run_id: int) -> tuple[int, int]:
    """(trials, findings opened) of the watched trials whose findings this run's batches evaluated."""
    trials = select(Study.nct_id).where(_evaluated_in_batch(run_id))
    watched = exists().where(WatchlistTrial.nct_id == Study.nct_id, WatchlistTrial.left_at.is_(None))
    count = session.scalar(
        select(func.count()).select_from(Study).where(_evaluated_in_batch(run_id), watched)
    )
    opened = session.scalar(
        select(func.count())
        .select_from(FindingRow)
        .where(FindingRow.opened_run_id == run_id, FindingRow.nct_id.in_(trials))
    )
    return int(count or 0), int(opened or 0)


def set_findings_due(
    session: Session, due: dict[str, date | None], *, in_batch_of: int | None = None
) -> None:
    """Keep, per trial, the first date its findings could change (None: they never do by date).

    ``in_batch_of``: a sync batch of that run evaluated them, from the versions it has just made
    current; the run's findings step then skips them (``watched_trial_ids``).
    """
    if not due:
        return
    table = Study.__table__  # Core, so it runs as one executemany
    values: dict[str, Any] = {"findings_due": bindparam("b_due")}
    if in_batch_of is not None:
        values |= {"findings_run_id": in_batch_of, "findings_version_id": table.c.current_version_id}
    session.execute(
        update(table).where(table.c.nct_id == bindparam("b_id")).values(values),
        [
            {"b_id": nct_id, "b_due": NEVER_DUE if day is None else day.isoformat()}
            for nct_id, day in due.items()
        ],
    )


def last_evaluation(session: Session, run_id: int) -> tuple[date, datetime] | None:
    """(as-of date, end) of the newest other run that evaluated findings, if it ended.

    The run ends after its evaluation, and the sync lease lets no other run store meanwhile: every
    version stored later than its end is one that evaluation did not see.
    """
    row = session.execute(
        select(SyncRun.findings_as_of, SyncRun.finished_at)
        .where(SyncRun.id != run_id, SyncRun.findings_as_of.is_not(None))
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()
    if row is None or row[1] is None:
        return None
    return date.fromisoformat(row[0]), _aware(row[1])


def mark_evaluated(session: Session, run_id: int, as_of: date) -> None:
    session.execute(update(SyncRun).where(SyncRun.id == run_id).values(findings_as_of=as_of.isoformat()))


class _Identification(msgspec.Struct):
    nctId: Any = msgspec.UNSET  # titles, organisation and other ids are not read


class _Intervention(msgspec.Struct):
    type: Any = None  # a missing type reads as None, as dict.get gives


class _Site(msgspec.Struct):
    country: Any = None


class _Interventions(msgspec.Struct):
    interventions: list[_Intervention] | None = None  # arm groups and descriptions are not read


class _Locations(msgspec.Struct):
    locations: list[_Site] | None = None  # contacts, facilities and cities are not read


class _Protocol(msgspec.Struct):
    identificationModule: _Identification | None = None
    statusModule: dict[str, Any] | None = None
    designModule: dict[str, Any] | None = None
    oversightModule: dict[str, Any] | None = None
    armsInterventionsModule: _Interventions | None = None
    contactsLocationsModule: _Locations | None = None


class _FindingsView(msgspec.Struct):
    """The parts of a record the findings checks read (trialwatch.findings._Record): results are
    only looked at for being there, so they stay undecoded, and the rest is skipped."""

    protocolSection: _Protocol | None = None
    resultsSection: msgspec.Raw = msgspec.Raw()
    annotationSection: dict[str, Any] | None = None
    hasResults: Any = None


_VIEW_DECODER = msgspec.json.Decoder(_FindingsView)


def findings_view(blob: bytes | memoryview) -> dict[str, Any]:
    """A stored record with only what the findings checks read: they answer as on the whole record,
    at a sixth of the decoding (results, descriptions and derived sections are most of a record)."""
    view = findings_view_of_json(record_json(blob))
    # an odd shape: the whole record, so the check names the fault
    return decode_record(blob) if view is None else view


def findings_view_of_json(text: bytes) -> dict[str, Any] | None:
    """``findings_view`` of a record's JSON text; None where its shape is odd."""
    try:
        view = _VIEW_DECODER.decode(text)
    except msgspec.MsgspecError:
        return None
    record: dict[str, Any] = {}
    if view.protocolSection is not None:
        protocol = view.protocolSection
        modules: dict[str, Any] = {}
        if protocol.identificationModule is not None:
            nct_id = protocol.identificationModule.nctId
            modules["identificationModule"] = {} if nct_id is msgspec.UNSET else {"nctId": nct_id}
        for name in ("statusModule", "designModule", "oversightModule"):
            module = getattr(protocol, name)
            if module is not None:
                modules[name] = module
        if protocol.armsInterventionsModule is not None:
            items = protocol.armsInterventionsModule.interventions
            modules["armsInterventionsModule"] = (
                {} if items is None else {"interventions": [{"type": item.type} for item in items]}
            )
        if protocol.contactsLocationsModule is not None:
            sites = protocol.contactsLocationsModule.locations
            modules["contactsLocationsModule"] = (
                {} if sites is None else {"locations": [{"country": site.country} for site in sites]}
            )
        record["protocolSection"] = modules
    results = view.resultsSection
    if len(results) and (len(results) > 4 or bytes(results) not in (b"{}", b"null")):
        record["resultsSection"] = {"undecoded": {}}  # there, and not empty: all a check asks
    if view.annotationSection is not None:
        record["annotationSection"] = view.annotationSection
    if view.hasResults is not None:
        record["hasResults"] = view.hasResults
    return record


def current_records(session: Session, nct_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What the findings checks read of each trial's current version (``findings_view``)."""
    query = (
        select(Study.nct_id, StudyVersion.record)
        .join(StudyVersion, StudyVersion.id == Study.current_version_id)
        .where(Study.nct_id.in_(tuple(nct_ids)))
    )
    return {nct_id: findings_view(blob) for nct_id, blob in session.execute(query)}


def _estimated_count(raw: Any) -> int | None:
    try:
        info = raw["protocolSection"]["designModule"]["enrollmentInfo"]
    except (KeyError, TypeError):
        return None
    count = info.get("count") if isinstance(info, dict) else None
    if info.get("type") != "ESTIMATED" or isinstance(count, bool) or not isinstance(count, int):
        return None
    return None if count in (0, ENROLLMENT_UNKNOWN) else count


def previous_anticipated(session: Session, nct_ids: Sequence[str]) -> dict[str, int]:
    """The last ESTIMATED enrollment among each trial's earlier versions (before the current one).

    Only asked for trials whose current enrollment is ACTUAL: that is when the check compares.
    """
    wanted = list(
        session.scalars(
            select(Study.nct_id).where(Study.nct_id.in_(tuple(nct_ids)), Study.enrollment_type == "ACTUAL")
        )
    )
    found: dict[str, int] = {}
    if not wanted:
        return found
    query = (
        select(StudyVersion.nct_id, StudyVersion.record)
        .join(Study, Study.nct_id == StudyVersion.nct_id)
        .where(StudyVersion.nct_id.in_(tuple(wanted)), StudyVersion.id != Study.current_version_id)
        .order_by(StudyVersion.nct_id, *version_order())
    )
    for nct_id, blob in session.execute(query):
        count = _estimated_count(decode_record(blob))
        if count is not None:
            found[nct_id] = count  # later versions overwrite earlier ones: the last one wins
    return found


def any_open_findings(session: Session) -> bool:
    """Whether any finding is open: none is before a registry's first evaluation."""
    return bool(session.scalar(select(exists().where(FindingRow.open_key.is_not(None)))))


def open_findings(session: Session, nct_ids: Sequence[str]) -> dict[str, list[Finding]]:
    """The open findings of these trials, by trial."""
    found: dict[str, list[Finding]] = {}
    query = select(FindingRow).where(FindingRow.nct_id.in_(tuple(nct_ids)), FindingRow.open_key.is_not(None))
    for row in session.scalars(query.order_by(FindingRow.id)):
        found.setdefault(row.nct_id, []).append(_finding(row))
    return found


def record_findings(
    session: Session,
    *,
    run_id: int,
    now: datetime,
    new: Sequence[Finding],
    still_open: Sequence[Finding],
    resolved: Sequence[Finding],
) -> None:
    """Open the new findings, refresh the ones still open (their detail moves on), resolve the rest."""
    if new:  # Core, so a registry's first evaluation inserts as one executemany
        session.execute(
            insert(FindingRow.__table__),
            [
                {
                    "key": finding.key,
                    "nct_id": finding.nct_id,
                    "code": finding.code,
                    "category": finding.category,
                    "severity": finding.severity,
                    "title": finding.title,
                    "detail": finding.detail,
                    "rule": finding.rule,
                    "certainty": finding.certainty,
                    "evidence": finding.evidence,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "opened_run_id": run_id,
                    "open_key": finding.key,
                }
                for finding in new
            ],
        )
    if still_open:
        table = FindingRow.__table__  # Core, so the refresh runs as one executemany
        session.execute(
            update(table)
            .where(table.c.open_key == bindparam("b_key"))
            .values(
                severity=bindparam("b_severity"),
                title=bindparam("b_title"),
                detail=bindparam("b_detail"),
                rule=bindparam("b_rule"),
                certainty=bindparam("b_certainty"),
                evidence=bindparam("b_evidence", type_=table.c.evidence.type),
                last_seen_at=now,
            ),
            [
                {
                    "b_key": f.key,
                    "b_severity": f.severity,
                    "b_title": f.title,
                    "b_detail": f.detail,
                    "b_rule": f.rule,
                    "b_certainty": f.certainty,
                    "b_evidence": f.evidence,
                }
                for f in still_open
            ],
        )
    for keys in in_chunks([finding.key for finding in resolved]):
        session.execute(
            update(FindingRow)
            .where(FindingRow.open_key.in_(keys))
            .values(resolved_at=now, resolved_run_id=run_id, open_key=None)
        )
    session.flush()


def findings_high_water(session: Session) -> int:
    """The highest sync run that opened or resolved a finding (0 when none has)."""
    opened = session.scalar(select(func.max(FindingRow.opened_run_id))) or 0
    resolved = session.scalar(select(func.max(FindingRow.resolved_run_id))) or 0
    return max(opened, resolved)


def _within(
    run_id: int, at: datetime | None, after_run: int | None, up_to_run: int, since: datetime | None
) -> bool:
    if run_id > up_to_run:
        return False
    if after_run is not None:
        return run_id > after_run
    return since is None or (at is not None and _aware(at) >= _aware(since))


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def changed_findings(
    session: Session,
    nct_ids: Collection[str],
    *,
    after_run: int | None,
    up_to_run: int,
    since: datetime | None = None,
) -> tuple[list[StoredFinding], list[StoredFinding]]:
    """(opened, resolved): findings of these trials opened, resolved, in runs (after_run, up_to_run]
    (or, with no cursor, since ``since``). A finding opened and resolved in the window is only resolved."""
    opened: list[StoredFinding] = []
    resolved: list[StoredFinding] = []
    for chunk in in_chunks(sorted(nct_ids)):
        opened_in = FindingRow.opened_run_id <= up_to_run
        resolved_in = FindingRow.resolved_run_id <= up_to_run
        if after_run is not None:
            opened_in = opened_in & (FindingRow.opened_run_id > after_run)
            resolved_in = resolved_in & (FindingRow.resolved_run_id > after_run)
        elif since is not None:
            opened_in = opened_in & (FindingRow.first_seen_at >= since)
            resolved_in = resolved_in & (FindingRow.resolved_at >= since)
        query = select(FindingRow).where(FindingRow.nct_id.in_(chunk), or_(opened_in, resolved_in))
        for row in session.scalars(query.order_by(FindingRow.id)):
            if row.resolved_run_id is not None and _within(
                row.resolved_run_id, row.resolved_at, after_run, up_to_run, since
            ):
                resolved.append(_stored(row))
            elif _within(row.opened_run_id, row.first_seen_at, after_run, up_to_run, since):
                opened.append(_stored(row))
    return opened, resolved


def trial_findings(session: Session, nct_id: str, *, resolved_limit: int = 10) -> list[StoredFinding]:
    """A trial's open findings (newest first), then its ``resolved_limit`` most recently resolved."""
    rows = session.scalars(
        select(FindingRow)
        .where(FindingRow.nct_id == nct_id, FindingRow.open_key.is_not(None))
        .order_by(FindingRow.id.desc())
    )
    resolved = session.scalars(
        select(FindingRow)
        .where(FindingRow.nct_id == nct_id, FindingRow.open_key.is_(None))
        .order_by(FindingRow.resolved_run_id.desc(), FindingRow.id.desc())
        .limit(resolved_limit)
    )
    return [_stored(row) for row in [*rows, *resolved]]


def has_open_finding(nct_id_column: Any, code: str | None) -> Any:
    """A condition for other queries: the trial has an open finding (of ``code``, if given)."""
    condition = (FindingRow.nct_id == nct_id_column) & FindingRow.open_key.is_not(None)
    if code is not None:
        condition = condition & (FindingRow.code == code)
    return exists().where(condition)


def open_finding_counts(session: Session, nct_ids: Collection[str]) -> dict[str, dict[str, int]]:
    """Per trial, the count of open findings by code."""
    counts: dict[str, dict[str, int]] = {}
    for chunk in in_chunks(sorted(nct_ids)):
        query = (
            select(FindingRow.nct_id, FindingRow.code, func.count())
            .where(FindingRow.nct_id.in_(chunk), FindingRow.open_key.is_not(None))
            .group_by(FindingRow.nct_id, FindingRow.code)
        )
        for nct_id, code, count in session.execute(query):
            counts.setdefault(nct_id, {})[code] = count
    return counts


def latest_findings(session: Session, nct_ids: Collection[str], *, limit: int) -> list[StoredFinding]:
    """The ``limit`` findings of these trials opened most recently (open or resolved since)."""
    rows: list[FindingRow] = []
    for chunk in in_chunks(sorted(nct_ids)):
        query = select(FindingRow).where(FindingRow.nct_id.in_(chunk)).order_by(FindingRow.id.desc())
        rows.extend(session.scalars(query.limit(limit)))
    rows.sort(key=lambda row: row.id, reverse=True)
    return [_stored(row) for row in rows[:limit]]
