"""The history backfill: fetch the older versions of newly watched trials, a budget of requests at a time.

The sync stores a new trial's current version at once and queues its history (``store.backfill``).
``run_backfill`` drains that queue newest first: the most recently changed trials first, and within a
trial from the version before the stored one backwards, so an interrupted trial already shows its
recent past. Each request counts against the run's budget (TRIALWATCH_BACKFILL_REQUESTS), so a
registry-wide first sync spreads its history over many hourly runs instead of blocking the sync.

It takes the store's sync lease for the run (under a holder of its own): no sync writes, and the
registry never sees both at once. Every version is also written in a transaction that locks the
trial's row and checks the queue entry's cursor, so even a writer that bypassed the lease cannot
make it store a version twice or out of order. Backfilled versions and their events are flagged
``backfill``: they fill the Trial Watch timeline and never reach a digest.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trialwatch import records
from trialwatch.diff import diff_canonical
from trialwatch.registry.client import CtgovClient
from trialwatch.registry.errors import HistoryUnavailable
from trialwatch.registry.history import HistoryAdapter, VersionInfo, place_by_date
from trialwatch.store import Store
from trialwatch.store import backfill as queue
from trialwatch.store import lease as sync_lease
from trialwatch.store.errors import WriteConflict
from trialwatch.store.repository import is_duplicate

log = logging.getLogger(__name__)

# A trial whose history cannot be read this many runs in a row is left with its stored versions.
GIVE_UP_AFTER = 3


class BackfillBusy(RuntimeError):
    """A sync (or another backfill) holds the store's sync lease; this run did nothing."""


@dataclass
class BackfillSummary:
    budget: int
    requests: int = 0
    versions: int = 0
    events: int = 0
    trials_done: list[str] = field(default_factory=list)
    trials_touched: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    queued_after: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class _Budget:
    """Counts requests; ``spend`` refuses one when the budget is used up."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    @property
    def left(self) -> int:
        return self.limit - self.used

    def spend(self) -> None:
        if self.used >= self.limit:
            raise _OutOfBudget
        self.used += 1


class _OutOfBudget(Exception):
    pass


def _take_lease(store: Store, holder: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        with store.session() as session:
            busy = sync_lease.acquire(session, holder, now=_now())
        if busy is None:
            return
        if time.monotonic() >= deadline:
            raise BackfillBusy(f"{busy.describe()}; the backfill did nothing and runs again later")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def run_backfill(
    store: Store,
    client: CtgovClient,
    *,
    budget: int,
    lock_wait: float = 0.0,
    data_timestamp: str | None = None,
) -> BackfillSummary:
    """Spend up to ``budget`` registry requests on the queue, newest first; raises BackfillBusy."""
    summary = BackfillSummary(budget=budget)
    if budget <= 0:
        return summary
    holder = f"{sync_lease.BACKFILL_HOLDER}{uuid.uuid4().hex}"
    _take_lease(store, holder, lock_wait)
    spent = _Budget(budget)
    history = HistoryAdapter(client)
    try:
        with store.session() as session:
            # Each trial costs at least one request: no more trials than the budget can be touched.
            entries = queue.next_entries(session, limit=budget)
        for entry in entries:
            if spent.left <= 0:
                break
            try:
                with store.session() as session:
                    sync_lease.extend(session, holder, 0, now=_now())
            except sync_lease.LeaseLost as exc:
                raise BackfillBusy("the backfill lost the store's sync lease (it expired); stopped") from exc
            _drain_one(store, history, entry, spent, summary, data_timestamp)
        with store.session() as session:
            summary.queued_after = queue.counts(session)["queued"]
    finally:
        with store.session() as session:
            sync_lease.release(session, holder)
    summary.requests = spent.used
    log.info(
        "backfill: %d request(s) of %d, %d version(s), %d event(s), %d trial(s) finished, %d still queued",
        summary.requests,
        budget,
        summary.versions,
        summary.events,
        len(summary.trials_done),
        summary.queued_after,
    )
    return summary


def _drain_one(
    store: Store,
    history: HistoryAdapter,
    entry: queue.Pending,
    spent: _Budget,
    summary: BackfillSummary,
    data_timestamp: str | None,
) -> None:
    nct_id = entry.nct_id
    summary.trials_touched.append(nct_id)
    try:
        if entry.next_version is None:
            spent.spend()
            infos = history.versions(nct_id)
            placed = _placed(store, entry, infos)
            if placed is None:
                summary.trials_done.append(nct_id)
                return
            entry = placed
        _walk_back(store, history, entry, spent, summary, data_timestamp)
    except _OutOfBudget:
        return
    except HistoryUnavailable as exc:
        log.warning("%s: history unavailable (%s); tried again on a later run", nct_id, exc)
        summary.failures.append({"nct_id": nct_id, "error": str(exc)})
        with store.session() as session:
            if queue.record_failure(session, nct_id, str(exc), give_up_after=GIVE_UP_AFTER, now=_now()):
                log.warning("%s: history unavailable %d times; the backfill gives up", nct_id, GIVE_UP_AFTER)
    except queue.CursorMoved as exc:
        log.warning("%s; left to the writer that moved it", exc)
    except WriteConflict as exc:
        if not is_duplicate(exc):
            raise
        log.warning("%s: a version was already stored by another writer; left as it is", nct_id)


def _placed(store: Store, entry: queue.Pending, infos: list[VersionInfo]) -> queue.Pending | None:
    """Number the stored version from the version list and set the cursor below it (None: done)."""
    nct_id = entry.nct_id
    with store.session() as session:
        anchor = queue.stored_version(session, entry.anchor_version_id)
    if anchor is None or not infos:
        with store.session() as session:
            queue.finish(session, nct_id, now=_now(), error="no stored version or no registry versions")
        return None
    number = anchor.registry_version
    if number is None:
        placed = place_by_date(infos, records.last_update_posted(anchor.raw_json))
        # Without a usable posting date the stored record is taken to be the newest version, as the
        # sync does for a record stored without its number.
        number = placed.version if placed is not None else infos[-1].version
    stop = 0 if entry.depth is None else max(0, number - entry.depth)
    dates = {str(info.version): info.date for info in infos}
    with store.session() as session:
        more = queue.place_anchor(
            session, entry, registry_version=number, dates=dates, stop_version=stop, now=_now()
        )
    with store.session() as session:
        fresh = queue.entry(session, nct_id)
    if not more or fresh is None:
        return None
    return fresh


@dataclass
class _Newer:
    """The stored version the next fetched one precedes: its canonical form and identity."""

    canonical: dict[str, Any]
    content_hash: str
    registry_version: int | None
    date: str | None
    backfill: bool


def _walk_back(
    store: Store,
    history: HistoryAdapter,
    entry: queue.Pending,
    spent: _Budget,
    summary: BackfillSummary,
    data_timestamp: str | None,
) -> None:
    """Fetch versions from the cursor down to the entry's stop version, one transaction each."""
    nct_id = entry.nct_id
    with store.session() as session:
        stored = queue.stored_version(session, entry.newer_version_id or -1)
    if stored is None:
        raise LookupError(f"{nct_id}: version {entry.newer_version_id} is not in the store")
    newer = _Newer(
        records.canonical_form(stored.raw_json),
        stored.content_hash,
        stored.registry_version,
        stored.registry_version_date,
        stored.backfill,
    )
    added = 0
    while entry.next_version is not None and entry.next_version >= (entry.stop_version or 0):
        number = entry.next_version
        spent.spend()
        study = history.study_at(nct_id, number)
        canonical = records.canonical_form(study)
        content_hash = records.hash_canonical(canonical)
        date = (entry.dates or {}).get(str(number))
        events = []
        if content_hash != newer.content_hash:
            events = diff_canonical(
                canonical,
                newer.canonical,
                nct_id=nct_id,
                thresholds=None,  # default severities: backfilled events are history, never news
                old_hash=content_hash,
                new_hash=newer.content_hash,
                old_version=number,
                new_version=newer.registry_version,
                old_version_date=date,
                new_version_date=newer.date,
            )
        with store.session() as session:
            moved = queue.add_older(
                session,
                entry,
                study=study,
                content_hash=content_hash,
                events=events,
                now=_now(),
                data_timestamp=data_timestamp,
            )
        if moved.newer_version_id != entry.newer_version_id:
            added += 1
            summary.versions += 1
            summary.events += len(events)
            newer = _Newer(canonical, content_hash, number, date, True)
        elif newer.backfill:  # the same content as the newer backfilled version: it starts here
            newer.registry_version, newer.date = number, date
        entry = moved
    summary.trials_done.append(nct_id)
    log.info("%s: history backfilled (%d older version(s) this run)", nct_id, added)
