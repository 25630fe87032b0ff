"""Read-only queries behind the Trial Watch pages and API, returning typed records.

Every list is paginated in SQL over an indexed ORDER BY; the overview also by cursor (keyset), so a
page costs the same with ten trials or the whole registry, however deep. The registry record's fields come from ``trialwatch.records``;
turning these records into JSON or HTML is the UI's business.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Select,
    String,
    and_,
    any_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    or_,
    select,
    table,
    true,
)
from sqlalchemy import text as text_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Join

from trialwatch.events import SEVERITY_RANK, compare_url, history_url, study_url
from trialwatch.records import CurrentFacts, current_facts
from trialwatch.store import title_index
from trialwatch.store.codec import decode_record
from trialwatch.store.findings import has_open_finding
from trialwatch.store.models import (
    ChangeEventRow,
    DigestOutbox,
    FindingRow,
    Study,
    StudyVersion,
    SyncRun,
    WatchlistMemberCount,
    WatchlistTrial,
    version_order,
)

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50


def _posted(version: Any) -> Any:
    """The registry's posting date of a stored version: from its history entry, else from the record."""
    return func.coalesce(version.registry_version_date, version.posted)


# Sort keys a client may ask for, each ending in the unique (trial, watchlist) tie-breaker, so pages
# never overlap and a cursor names one row. "last_change" is the registry's date; "detected" is when a
# sync of ours noticed it. Trials without a value sort last either way.
# The trial's id is the study's: its indexes end in it (watchlist_trials.nct_id is equal, but no index
# on studies is known to be ordered by it).
_TIE = (Study.nct_id, WatchlistTrial.watchlist)
OVERVIEW_SORTS: dict[str, Sequence[Any]] = {
    "last_change": (Study.last_posted, Study.last_changed_at, *_TIE),
    "detected": (Study.last_changed_at, *_TIE),
    "nct_id": _TIE,
    "title": (Study.title, *_TIE),
    "status": (Study.overall_status, *_TIE),
    "enrollment": (Study.enrollment_count, *_TIE),
    "severity": (Study.last_change_severity, Study.last_changed_at, *_TIE),
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
    # Cursors of the neighbouring pages (None at either end), and whether ``total`` is a lower bound.
    next_cursor: str | None = None
    prev_cursor: str | None = None
    total_capped: bool = False


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
    events: list[EventRecord]  # the most severe first; at most a page of them
    compare_url: str | None
    event_total: int = 0  # all events of this version, shown or not


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
    version_count: int = 0
    # The timeline is paged: versions, or with ``version`` that version's events.
    page: int = 1
    pages: int = 1
    version: int | None = None


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
    """Each watchlist with how many trials it watches now (trials that left a query are not counted).

    Read from the counts the database keeps (``watchlist_member_counts``), not by counting members."""
    rows = session.execute(
        select(WatchlistMemberCount.watchlist, WatchlistMemberCount.trials)
        .where(WatchlistMemberCount.trials > 0)
        .order_by(WatchlistMemberCount.watchlist)
    )
    return [WatchlistCount(name, count) for name, count in rows]


class BadCursor(ValueError):
    """A page cursor that is malformed or belongs to another sort."""


@dataclass(frozen=True)
class _Segment:
    """Rows matching ``condition``, ordered by ``keys``; the first key has no NULL among them, so an
    index on the keys walks the segment in either direction on SQLite and PostgreSQL alike."""

    condition: Any
    keys: tuple[Any, ...]
    # Keys that may be NULL are constant within the segment: order by them as the index does, with
    # no NULLS FIRST/LAST (which PostgreSQL's index order would not match walking backwards).
    constant_nulls: bool = False


def _nullable(column: Any) -> bool:
    return bool(column.expression.nullable)


def _split(condition: Any, keys: Sequence[Any]) -> list[_Segment]:
    # NULLs sort last in both directions, which no single index gives on both databases: rows with
    # the leading key set come first, then those without it, ordered by the remaining keys.
    first, *rest = keys
    if not _nullable(first):
        return [_Segment(condition, tuple(keys))]
    return [
        _Segment(and_(condition, first.is_not(None)), tuple(keys)),
        *_split(and_(condition, first.is_(None)), rest),
    ]


def _segments(sort: str, descending: bool, *, by_study: bool = False) -> list[_Segment]:
    """The sort's segments; ``by_study``: without the watchlist tie-breaker, to walk studies alone."""
    keys = tuple(OVERVIEW_SORTS[sort])
    if by_study:
        keys = keys[:-1]
    if sort != "severity":
        return _split(true(), keys)
    # By rank, not by name: one segment per severity, the trials that never changed last (first
    # ascending, as rank 0). The store holds no other severities (events are validated).
    ranked = sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__, reverse=True)
    groups = [Study.last_change_severity == name for name in ranked]
    groups.append(Study.last_change_severity.is_(None))
    if not descending:
        groups.reverse()
    # Every segment orders by all the keys of the severity index (those split on are constant in
    # it, so the order is the same): the ORDER BY then matches the index in both directions.
    return [
        _Segment(segment.condition, tuple(keys), constant_nulls=True)
        for group in groups
        for segment in _split(group, keys[1:])
    ]


def _order(keys: Sequence[Any], descending: bool, forward: bool, nulls: bool = True) -> list[Any]:
    down = descending == forward
    terms = []
    for position, key in enumerate(keys):
        term = key.desc() if down else key.asc()
        if nulls and position and _nullable(key):
            term = term.nulls_last() if forward else term.nulls_first()
        terms.append(term)
    return terms


def _past(
    keys: Sequence[Any], values: Sequence[Any], descending: bool, forward: bool, *, inclusive: bool = False
) -> Any:
    """Rows strictly after ``values`` in the walk (NULLs last forward, hence first walking back);
    ``inclusive``: the row at ``values`` too."""
    down = descending == forward
    clauses, equal = [], []
    for position, (key, value) in enumerate(zip(keys, values, strict=True)):
        if value is None:
            beyond = false() if forward else key.is_not(None)
        else:
            beyond = key < value if down else key > value
            if forward and position and _nullable(key):
                beyond = or_(beyond, key.is_(None))
        clauses.append(and_(*equal, beyond))
        equal.append(key.is_(None) if value is None else key == value)
    if inclusive:
        clauses.append(and_(*equal))
    if values[0] is None:  # a segment of NULLs in its leading key (the trials without a severity)
        return or_(*clauses)
    # The leading key alone bounds the index range the walk starts from.
    lead = keys[0] <= values[0] if down else keys[0] >= values[0]
    return and_(lead, or_(*clauses))


def _encode(sort: str, descending: bool, segment: int, values: Sequence[Any]) -> str:
    plain = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    data = json.dumps([sort, descending, segment, plain], separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str, descending: bool, segments: int) -> tuple[int, list[Any]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        cursor_sort, cursor_descending, segment, plain = data
        values = [datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in plain]
    except (ValueError, TypeError, KeyError) as error:
        raise BadCursor(f"not a page cursor: {cursor[:40]!r}") from error
    if (cursor_sort, cursor_descending) != (sort, descending) or not 0 <= segment < segments:
        raise BadCursor("this page cursor belongs to another sort order; start from the first page")
    return segment, values


LAST = "last"  # the cursor of the end of a list: ``before=LAST`` is its last page


def _walk(
    session: Session,
    query: Select[Any],
    segments: list[_Segment],
    *,
    descending: bool,
    limit: int,
    offset: int = 0,
    start: tuple[int, list[Any]] | None = None,
    forward: bool = True,
    inclusive: bool = False,
) -> list[tuple[int, Any]]:
    """Up to ``limit`` rows in sort order (reverse order walking back), after ``start`` (or from it,
    ``inclusive``) or after ``offset`` rows, each with the index of its segment. Each segment is one
    indexed query."""
    order = list(range(len(segments))) if forward else list(range(len(segments) - 1, -1, -1))
    if start is not None:
        order = order[order.index(start[0]) :]
    rows: list[tuple[int, Any]] = []
    for index in order:
        segment = segments[index]
        selected = query.where(segment.condition)
        if start is not None and index == start[0]:
            selected = selected.where(_past(segment.keys, start[1], descending, forward, inclusive=inclusive))
        found = session.execute(
            selected.order_by(*_order(segment.keys, descending, forward, not segment.constant_nulls))
            .limit(limit - len(rows))
            .offset(offset)
        ).all()
        if offset and not found:
            # Only a page number deep enough to skip a whole segment pays for counting it.
            offset -= session.scalar(select(func.count()).select_from(selected.subquery())) or 0
            continue
        offset = 0
        rows += [(index, row) for row in found]
        if len(rows) >= limit:
            break
    return rows


def _key_values(keys: Sequence[Any], entities: dict[type, Any]) -> list[Any]:
    return [getattr(entities[key.class_], key.key) for key in keys]


class _LeftFirst(Join):
    """A join that SQLite reads left table first (CROSS JOIN fixes its loop order): the table whose
    index gives the sort order, each row with its partner, instead of scanning one and sorting."""

    inherit_cache = True


@compiles(_LeftFirst, "sqlite")
def _left_first(element: _LeftFirst, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    kw.pop("asfrom")
    return f"{left} CROSS JOIN {right} ON {compiler.process(element.onclause, **kw)}"


def _by_study(
    session: Session,
    segments: list[_Segment],
    study_filter: Any,
    member: Any,
    *,
    descending: bool,
    limit: int,
    offset: int,
    start: tuple[int, list[Any]] | None,
    forward: bool,
) -> list[tuple[int, WatchlistTrial, Study]]:
    """Rows walked through the studies' sort index, then expanded to their memberships.

    A query over studies alone (membership as EXISTS) lets both planners walk the index; joined to
    watchlist_trials, SQLite without statistics scans the members and sorts them all instead. A
    cursor names (study keys, watchlist): the walk starts at its study and skips its memberships
    up to that watchlist."""
    down = descending == forward
    studies = _walk(
        session,
        select(Study).where(study_filter),
        segments,
        descending=descending,
        limit=limit + 1,  # the cursor's study may give no row
        offset=offset,
        start=(start[0], start[1][:-1]) if start else None,
        forward=forward,
        inclusive=True,
    )
    ids = [study.nct_id for _, (study,) in studies]
    members: dict[str, list[WatchlistTrial]] = {}
    if ids:
        for row in session.scalars(select(WatchlistTrial).where(WatchlistTrial.nct_id.in_(ids), member)):
            members.setdefault(row.nct_id, []).append(row)
    rows = []
    for index, (study,) in studies:
        for membership in sorted(members.get(study.nct_id, []), key=lambda m: m.watchlist, reverse=down):
            if start is not None and study.nct_id == start[1][-2]:
                mark = start[1][-1]
                if (membership.watchlist <= mark) if not down else (membership.watchlist >= mark):
                    continue
            rows.append((index, membership, study))
    return rows[:limit]


def _skip(
    session: Session, segments: list[_Segment], condition: Any, *, descending: bool, limit: int, offset: int
) -> list[list[Any]]:
    """The page's trials after ``offset`` rows, as [segment index, nct_id, rows of it on the page]:
    a running sum of the trials' current memberships (one row each) along the sort index, which
    holds the count, so no member is read. PostgreSQL sums in the server (a window); SQLite reads
    the index in the process, where its window functions cost more than the rows."""
    postgres = session.get_bind().dialect.name == "postgresql"
    blocks: list[list[Any]] = []
    taken = 0
    for index, segment in enumerate(segments):
        order = _order(segment.keys, descending, True, not segment.constant_nulls)
        selected = select(Study.nct_id, Study.current_members).where(condition, segment.condition)
        if postgres:
            # First by the leading key's groups, summed over its peers in index order: the full
            # order (NULLS LAST on a later key) needs a sort, paid then from the group where the
            # skip ends only.
            lead = segment.keys[0]
            lead_order = lead.desc() if descending else lead.asc()
            ends = (
                select(
                    lead.label("lead"),
                    func.sum(Study.current_members).over(order_by=lead_order).label("upto"),
                )
                .where(condition, segment.condition)
                .subquery()
            )
            group = session.execute(
                select(ends.c.lead, ends.c.upto).where(ends.c.upto > offset).limit(1)
            ).first()
            if group is None:
                offset -= int(
                    session.scalar(
                        select(func.sum(Study.current_members)).where(condition, segment.condition)
                    )
                    or 0
                )
                continue
            # From the group where the skip ends: the page starts there, so no later group counts.
            group_rows = (
                session.scalar(
                    select(func.sum(Study.current_members)).where(
                        condition, segment.condition, lead == group.lead
                    )
                )
                if group.lead is not None
                else group.upto
            )
            offset -= int(group.upto) - int(group_rows or 0)
            if group.lead is not None:  # else the lead is NULL throughout (a severity segment): one group
                selected = selected.where(lead <= group.lead if descending else lead >= group.lead)
            running = func.sum(Study.current_members).over(order_by=order, rows=(None, 0))
            summed = selected.add_columns(running.label("upto")).subquery()
            found = session.execute(
                select(summed.c.nct_id, summed.c.current_members, summed.c.upto)
                .where(summed.c.upto > offset)
                .limit(limit - taken)
            ).all()
            if not found and offset:
                offset -= int(session.scalar(select(func.sum(summed.c.current_members))) or 0)
                continue
            found = sorted(found, key=lambda row: row[2])  # the walk's order: the sums only grow
        else:
            # Every trial here is at least one row: the skip and the page lie within offset + limit.
            statement = selected.order_by(*order).limit(offset + limit - taken)
            compiled = statement.compile(dialect=session.get_bind().dialect)
            # The driver's cursor: a result row object per skipped trial would cost more than the walk.
            raw = session.connection().connection.driver_connection
            rows = raw.execute(str(compiled), [compiled.params[name] for name in compiled.positiontup or ()])
            upto, found = 0, []
            for nct_id, members in rows:
                upto += members
                if upto > offset:
                    found.append((nct_id, members, upto))
                    if len(found) >= limit - taken:
                        break
            if not found:
                offset = max(0, offset - upto)
                continue
        for nct_id, members, upto in found:
            on_page = min(members, upto - offset, limit - taken)
            blocks.append([index, nct_id, on_page])
            taken += on_page
            offset = 0
            if taken >= limit:
                return blocks
    return blocks


def _by_number(
    session: Session,
    segments: list[_Segment],
    condition: Any,
    member: Any,
    *,
    descending: bool,
    limit: int,
    offset: int,
    start: None,
    forward: bool,
) -> list[tuple[int, WatchlistTrial, Study]] | None:
    """A page by number over several watchlists: rows are skipped by the trials' counts of current
    memberships along the studies' sort index (``_skip``), then the page's rows are fetched. None
    where the page is one trial's rows only (its split is unknown).

    Ordering by the study's keys alone spares a sort of each trial's rows by watchlist: a trial's
    rows are adjacent, so the page holds the tail of its first trial's rows, all of the middle ones'
    and the head of its last's, which the watchlists' order then names."""
    blocks = _skip(session, segments, condition, descending=descending, limit=limit, offset=offset)
    if len(blocks) == 1 and blocks[0][2] == limit:
        return None
    ids = [nct_id for _, nct_id, _ in blocks]
    studies = {study.nct_id: study for study in session.scalars(select(Study).where(Study.nct_id.in_(ids)))}
    members: dict[str, list[WatchlistTrial]] = {}
    for row in session.scalars(select(WatchlistTrial).where(WatchlistTrial.nct_id.in_(ids), member)):
        members.setdefault(row.nct_id, []).append(row)
    down = descending == forward
    rows = []
    for position, (index, nct_id, count) in enumerate(blocks):
        ordered = sorted(members.get(nct_id, []), key=lambda m: m.watchlist, reverse=down)
        chosen = ordered[max(0, len(ordered) - count) :] if position == 0 else ordered[:count]
        if nct_id in studies:  # a sync may have changed it between the two reads
            rows += [(index, membership, studies[nct_id]) for membership in chosen]
    return rows


def overview(
    session: Session,
    page: PageRequest,
    *,
    sort: str = "last_change",
    descending: bool = True,
    watchlist: str | None = None,
    finding: str | None = None,
    after: str | None = None,
    before: str | None = None,
    counts: list[WatchlistCount] | None = None,
) -> Page[OverviewRow]:
    """One page of (watchlist, trial) rows with each trial's current state and last change; with
    ``finding``, only trials with an open finding of that code ("any": of any code).

    ``after``/``before`` are cursors from a previous page (``before=LAST``: the last page); without
    them ``page`` counts from the start, which costs more the deeper it goes. ``counts``: this
    session's ``watchlist_counts``, if the caller has read them already."""
    if sort not in OVERVIEW_SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {sorted(OVERVIEW_SORTS)}")
    member = WatchlistTrial.left_at.is_(None)
    if watchlist:
        member = and_(member, WatchlistTrial.watchlist == watchlist)
    condition = member
    study_filter = exists().where(WatchlistTrial.nct_id == Study.nct_id, member)
    # A page by number over all watchlists: the trials with a current membership, from the index.
    skip_filter = Study.current_members > 0
    if finding:
        code = None if finding == "any" else finding
        condition = and_(condition, has_open_finding(WatchlistTrial.nct_id, code))
        study_filter = and_(study_filter, has_open_finding(Study.nct_id, code))
        skip_filter = and_(skip_filter, has_open_finding(Study.nct_id, code))
        # Counted from the open findings (few) rather than probing every member for one.
        flagged = select(FindingRow.nct_id).where(FindingRow.open_key.is_not(None))
        if code is not None:
            flagged = flagged.where(FindingRow.code == code)
        if session.get_bind().dialect.name == "postgresql":
            # As an array, one scan of the members' (nct_id, left_at, watchlist) index visits the
            # flagged trials (sorted, duplicates dropped), where IN hashes them and reads every member.
            ids = flagged.with_only_columns(func.array_agg(FindingRow.nct_id)).scalar_subquery()
            counted = and_(member, WatchlistTrial.nct_id == any_(cast(ids, ARRAY(String))))
        else:
            counted = and_(member, WatchlistTrial.nct_id.in_(flagged))
        total = session.scalar(select(func.count()).select_from(WatchlistTrial).where(counted)) or 0
    else:
        counts = watchlist_counts(session) if counts is None else counts
        total = sum(c.trials for c in counts if watchlist is None or c.name == watchlist)
    segments = _segments(sort, descending)
    # Walk the studies, except for the watchlist sort (the members' primary key is its index) and
    # for a page number past the first over several watchlists (a trial there may be several rows).
    by_study = sort != "watchlist" and (after or before or page.page == 1 or watchlist)
    study_segments = _segments(sort, descending, by_study=True)

    def walk(**kwargs: Any) -> list[tuple[int, WatchlistTrial, Study]]:
        if by_study:
            return _by_study(session, study_segments, study_filter, member, descending=descending, **kwargs)
        if sort != "watchlist" and kwargs["start"] is None:
            rows = _by_number(session, study_segments, skip_filter, member, descending=descending, **kwargs)
            if rows is not None:
                return rows
        # The watchlist sort walks the members' primary key; every other sort a studies index.
        tables = (WatchlistTrial.__table__, Study.__table__)
        first, second = tables if sort == "watchlist" else tables[::-1]
        pair = _LeftFirst(first, second, Study.nct_id == WatchlistTrial.nct_id)
        joined = select(WatchlistTrial, Study).select_from(pair).where(condition)
        return [
            (index, membership, study)
            for index, (membership, study) in _walk(
                session, joined, segments, descending=descending, **kwargs
            )
        ]

    limit = page.per_page + 1
    if before:
        start = None if before == LAST else _decode(before, sort, descending, len(segments))
        rows = walk(limit=limit, offset=0, start=start, forward=False)
        more_before = len(rows) > page.per_page
        rows = rows[: page.per_page][::-1]
        more_after = before != LAST
    else:
        start = _decode(after, sort, descending, len(segments)) if after else None
        rows = walk(limit=limit, offset=0 if after else page.offset, start=start, forward=True)
        more_after = len(rows) > page.per_page
        rows = rows[: page.per_page]
        more_before = bool(after) or page.page > 1

    def cursor(index: int, membership: WatchlistTrial, study: Study) -> str:
        values = _key_values(segments[index].keys, {WatchlistTrial: membership, Study: study})
        return _encode(sort, descending, index, values)

    items = [
        OverviewRow(membership.watchlist, membership.via, _study_summary(study, study.last_posted))
        for _, membership, study in rows
    ]
    result = _page(page, total, items)
    return dataclasses.replace(
        result,
        next_cursor=cursor(*rows[-1]) if rows and more_after else None,
        prev_cursor=cursor(*rows[0]) if rows and more_before else None,
    )


SEARCH_COUNT_CAP = 1000  # beyond this many matches search says "more than" instead of counting on


TITLE_INDEX = title_index.INDEX  # SQLite's FTS5 trigram index on studies.title (migrations 0015, 0018)


def _title_index(session: Session, needle: str, by_title: Any) -> list[str] | None:
    """Up to the cap's worth of ids whose title matches ``by_title``, found through SQLite's trigram
    index and among the trials it has yet to catch up with; None where that index cannot answer
    (PostgreSQL, no FTS5, fewer than 3 characters)."""
    if session.get_bind().dialect.name != "sqlite" or len(needle) < 3 or not title_index.exists(session):
        return None
    fts = table(TITLE_INDEX, column("rowid"))
    noted = table(title_index.PENDING, column("nct_id"))
    # The index folds case beyond ASCII, so it finds a superset; LIKE on the title keeps what matches.
    phrase = '"' + needle.replace('"', '""') + '"'
    indexed = (
        select(Study.nct_id)
        .select_from(fts)
        # Keyed by the trial's number (migration 0015): NCT + the number in 8 digits.
        .join(Study.__table__, Study.nct_id == func.printf("NCT%08d", fts.c.rowid))
        .where(text_(f"{TITLE_INDEX} MATCH :phrase").bindparams(phrase=phrase), by_title)
        .limit(SEARCH_COUNT_CAP + 1)
    )
    # Titles written since the last catch-up: the index may not hold them yet.
    unindexed = select(Study.nct_id).where(Study.nct_id.in_(select(noted.c.nct_id)), by_title)
    found = [*session.scalars(indexed), *session.scalars(unindexed.limit(SEARCH_COUNT_CAP + 1))]
    return list(dict.fromkeys(found))[: SEARCH_COUNT_CAP + 1]


def search(session: Session, text: str, page: PageRequest) -> Page[StudySummary]:
    """Trials whose NCT id starts with ``text`` or whose title contains it (case-insensitive): the
    exact id first, then the most recently changed. Counts stop at ``SEARCH_COUNT_CAP``."""
    needle = text.strip()
    if not needle:
        return _page(page, 0, [])
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    prefix = needle.upper()
    # The id prefix as a range too, so the primary key's index finds it under any collation.
    by_id = and_(
        Study.nct_id >= prefix,
        Study.nct_id < prefix[:-1] + chr(ord(prefix[-1]) + 1),
        Study.nct_id.like(f"{escaped.upper()}%", escape="\\"),
    )
    if session.get_bind().dialect.name == "postgresql":
        # ILIKE is what a trigram index (ix_studies_title_trgm, where pg_trgm exists) answers.
        by_title = Study.title.ilike(f"%{escaped}%", escape="\\")
    else:
        # SQLite's LIKE ignores ASCII case, as lower() did (SQLite folds ASCII only).
        by_title = Study.title.like(f"%{escaped}%", escape="\\")
    condition = or_(by_id, by_title)
    titles = _title_index(session, needle, by_title)
    if titles is not None:
        # Ids by the primary key, titles by the trigram index: the two lists hold more than the cap
        # together exactly when the matches do.
        by_key = session.scalars(select(Study.nct_id).where(by_id).limit(SEARCH_COUNT_CAP + 1))
        ids = list(dict.fromkeys([*by_key, *titles]))
    else:
        # Matching ids first, read from the (title, nct_id) index alone where the title decides, and
        # stopping at the cap: a rare word reads every title once, a common one stops early.
        ids = list(session.scalars(select(Study.nct_id).where(condition).limit(SEARCH_COUNT_CAP + 1)))
    capped = len(ids) > SEARCH_COUNT_CAP
    exact_first = case((Study.nct_id == prefix, 0), else_=1)
    if not capped:
        rows = session.scalars(
            select(Study)
            .where(Study.nct_id.in_(ids))
            .order_by(exact_first, Study.last_changed_at.desc().nulls_last(), Study.nct_id)
            .limit(page.per_page)
            .offset(page.offset)
        ).all()
        return _page(page, len(ids), [_study_summary(study, study.last_posted) for study in rows])
    # Too many to sort: walk the most recently changed trials and keep the matches (found early).
    exact = session.get(Study, prefix)
    first = [exact] if exact is not None else []
    if exact is not None:
        condition = and_(condition, Study.nct_id != exact.nct_id)
    lead = len(first) if page.page == 1 else 0
    walked = _walk(
        session,
        select(Study).where(condition),
        _split(true(), (Study.last_changed_at, Study.nct_id)),
        descending=True,
        limit=page.per_page - lead,
        offset=max(0, page.offset - len(first)),
    )
    studies = first[:lead] + [study for _, (study,) in walked]
    result = _page(page, SEARCH_COUNT_CAP, [_study_summary(study, study.last_posted) for study in studies])
    return dataclasses.replace(result, total_capped=True)


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


TIMELINE_PER_PAGE = 10  # stored versions per page of a trial's timeline
EVENTS_PER_VERSION = 20  # events shown under each version; the version's own page shows them all
EVENTS_PER_PAGE = 200  # events per page of one version
OTHER_EVENTS_LIMIT = 200  # the newest events tied to no version


def _version_events(session: Session, version_id: int, limit: int, offset: int = 0) -> list[EventRecord]:
    rank = case(SEVERITY_RANK, value=ChangeEventRow.severity, else_=0)
    rows = session.scalars(
        select(ChangeEventRow)
        .where(ChangeEventRow.version_id == version_id)
        .order_by(rank.desc(), ChangeEventRow.id)
        .limit(limit)
        .offset(offset)
    )
    return [_event_record(row) for row in rows]


def trial(session: Session, nct_id: str, *, page: int = 1, version: int | None = None) -> TrialDetail:
    """A trial's current state and a page of its timeline: stored versions, newest first, each with
    its most severe events. With ``version``, that version alone, ``page`` paging its events."""
    nct_id = nct_id.strip().upper()
    study = session.get(Study, nct_id)
    if study is None:
        raise NotFound(f"trial {nct_id} is not in the store")
    current_raw = current_posted = None
    if study.current_version_id is not None:
        current = session.execute(
            select(StudyVersion.record, _posted(StudyVersion)).where(
                StudyVersion.id == study.current_version_id
            )
        ).first()
        if current is not None:
            current_raw, current_posted = decode_record(current[0]), current[1]
    columns = (
        StudyVersion.id,
        StudyVersion.registry_version,
        StudyVersion.registry_version_date,
        _posted(StudyVersion).label("posted"),
        StudyVersion.data_timestamp,
        StudyVersion.fetched_at,
        StudyVersion.source,
        StudyVersion.content_hash,
    )
    of_trial = StudyVersion.nct_id == nct_id
    version_count = session.scalar(select(func.count()).select_from(StudyVersion).where(of_trial)) or 0
    if version is not None:
        versions = session.execute(select(*columns).where(of_trial, StudyVersion.id == version)).all()
        if not versions:
            raise NotFound(f"trial {nct_id} has no stored version {version}")
    else:
        versions = session.execute(
            select(*columns)
            .where(of_trial)
            .order_by(*version_order(newest_first=True))
            .limit(TIMELINE_PER_PAGE)
            .offset((page - 1) * TIMELINE_PER_PAGE)
        ).all()
    totals = dict(
        session.execute(
            select(ChangeEventRow.version_id, func.count())
            .where(ChangeEventRow.version_id.in_([v.id for v in versions]))
            .group_by(ChangeEventRow.version_id)
        ).all()
    )
    timeline = []
    for row in versions:
        if version is not None:
            version_events = _version_events(session, row.id, EVENTS_PER_PAGE, (page - 1) * EVENTS_PER_PAGE)
        else:
            version_events = _version_events(session, row.id, EVENTS_PER_VERSION)
        older = {e.old_version for e in version_events if e.old_version is not None}
        timeline.append(
            TimelineVersion(
                version_id=row.id,
                registry_version=row.registry_version,
                registry_version_date=row.registry_version_date,
                posted=row.posted,
                data_timestamp=row.data_timestamp,
                fetched_at=row.fetched_at,
                source=row.source,
                content_hash=row.content_hash,
                current=row.id == study.current_version_id,
                events=version_events,
                compare_url=compare_url(nct_id, min(older) if older else None, row.registry_version)
                if version_events
                else None,
                event_total=totals.get(row.id, 0),
            )
        )
    unattached = session.scalars(
        select(ChangeEventRow)
        .where(ChangeEventRow.nct_id == nct_id, ChangeEventRow.version_id.is_(None))
        .order_by(ChangeEventRow.id.desc())
        .limit(OTHER_EVENTS_LIMIT)
    ).all()
    event_count = session.scalar(
        select(func.count()).select_from(ChangeEventRow).where(ChangeEventRow.nct_id == nct_id)
    )
    memberships = session.execute(
        select(WatchlistTrial).where(WatchlistTrial.nct_id == nct_id).order_by(WatchlistTrial.watchlist)
    ).scalars()
    per_page = EVENTS_PER_PAGE if version is not None else TIMELINE_PER_PAGE
    of = totals.get(version, 0) if version is not None else version_count
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
        other_events=sorted(
            (_event_record(event) for event in unattached),
            key=lambda e: (-SEVERITY_RANK.get(e.severity, 0), e.id),
        ),
        event_count=event_count or 0,
        version_count=version_count,
        page=page,
        pages=max(1, -(-of // per_page)),
        version=version,
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
