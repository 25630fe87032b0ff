"""The store's side of the digests: the event selection, trial names, sync runs, the event high-water mark.

Every query the digest and the feed need lives here; the digest package decides what to ask for.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, text
from sqlalchemy.orm import Session

from trialwatch.events import StoredEvent
from trialwatch.records import TrialInfo
from trialwatch.store.chunks import in_chunks
from trialwatch.store.models import ChangeEventRow, Study, SyncRun, WatchlistTrial
from trialwatch.store.repository import event_from_row


def high_water(session: Session) -> int:
    """The highest event id in the store (0 when there is none)."""
    return session.scalar(select(func.max(ChangeEventRow.id))) or 0


def settled_high_water(session: Session) -> int:
    """The highest event id below which no event can still appear.

    PostgreSQL hands out ids before commit, so a sync still writing could commit a lower id after a
    digest moved its cursor past it. A SHARE lock waits for those writers to finish (SQLite's
    BEGIN IMMEDIATE already serialises writers).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE change_events IN SHARE MODE"))
    return high_water(session)


def _watched_filter(watchlist: str, listed: Sequence[str]) -> ColumnElement[bool]:
    # A trial's events count for a watchlist while it is on it: none after it left.
    watched = exists().where(
        WatchlistTrial.watchlist == watchlist,
        WatchlistTrial.nct_id == ChangeEventRow.nct_id,
        or_(WatchlistTrial.left_at.is_(None), ChangeEventRow.detected_at <= WatchlistTrial.left_at),
    )
    return or_(watched, ChangeEventRow.nct_id.in_(tuple(listed))) if listed else watched


def watchlist_events(
    session: Session,
    watchlist: str,
    *,
    listed: Sequence[str],
    severities: Collection[str],
    categories: Collection[str],
    after_id: int | None,
    up_to_id: int,
    since: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[StoredEvent]:
    """Events in (after_id, up_to_id] (or detected since ``since``) on the watchlist's trials (its member
    rows while a member, plus the ``listed`` ids), of these severities and, unless empty, categories.
    Backfilled events are never selected."""
    query = select(ChangeEventRow).where(
        _watched_filter(watchlist, listed),
        ChangeEventRow.id <= up_to_id,
        ChangeEventRow.severity.in_(tuple(severities)),
        # A newly watched trial's past versions fill its timeline; they are not news.
        ChangeEventRow.backfill.is_(False),
    )
    if after_id is not None:
        query = query.where(ChangeEventRow.id > after_id)
    elif since is not None:
        query = query.where(ChangeEventRow.detected_at >= since)
    if categories:
        query = query.where(ChangeEventRow.category.in_(tuple(categories)))
    query = query.order_by(ChangeEventRow.id.desc() if newest_first else ChangeEventRow.id)
    if limit is not None:
        query = query.limit(limit)
    return [
        StoredEvent(event_from_row(row), id=row.id, detected_at=row.detected_at)
        for row in session.scalars(query)
    ]


def trial_info(session: Session, nct_ids: Collection[str]) -> dict[str, TrialInfo]:
    """Title and overall status of each of these trials that the store holds."""
    info: dict[str, TrialInfo] = {}
    for chunk in in_chunks(sorted(nct_ids)):
        for study in session.scalars(select(Study).where(Study.nct_id.in_(chunk))):
            info[study.nct_id] = TrialInfo(title=study.title or "", status=study.overall_status)
    return info


def member_ids(session: Session, watchlists: Sequence[str]) -> set[str]:
    """NCT ids that are or were members of these watchlists."""
    return set(
        session.scalars(select(WatchlistTrial.nct_id).where(WatchlistTrial.watchlist.in_(list(watchlists))))
    )


@dataclass(frozen=True)
class SyncRunFacts:
    """What a digest's health footer says about one sync run."""

    started_at: datetime | None
    finished_at: datetime | None
    status: str | None
    data_timestamp: str | None
    failures: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Any] = field(default_factory=list)


def _facts(run: SyncRun | None) -> SyncRunFacts | None:
    if run is None:
        return None
    return SyncRunFacts(
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        data_timestamp=run.data_timestamp,
        failures=list(run.failures or []),
        notes=list(run.notes or []),
    )


def latest_sync_runs(session: Session) -> tuple[SyncRunFacts | None, SyncRunFacts | None]:
    """The last sync run (the last finished one if any finished) and the last one that finished ok.

    A run skipped because another sync held the lease did nothing: it is not the last sync. A run
    that failed before asking the registry has no data build: it carries the last one seen.
    """
    done = select(SyncRun).where(SyncRun.status != "skipped")
    finished = done.where(SyncRun.finished_at.is_not(None))
    last = session.scalar(finished.order_by(SyncRun.started_at.desc()).limit(1)) or session.scalar(
        done.order_by(SyncRun.started_at.desc()).limit(1)
    )
    success = session.scalar(
        finished.where(SyncRun.status == "ok").order_by(SyncRun.started_at.desc()).limit(1)
    )
    facts = _facts(last)
    if facts is not None and facts.data_timestamp is None:
        seen = session.scalar(
            select(SyncRun.data_timestamp)
            .where(SyncRun.data_timestamp.is_not(None))
            .order_by(SyncRun.started_at.desc())
            .limit(1)
        )
        facts = replace(facts, data_timestamp=seen)
    return facts, _facts(success)
