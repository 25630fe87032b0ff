"""The sync: which trials to fetch, fetching them in batches, and recording versions and events.

Three steps, so Airflow can map the middle one over batches: ``plan_sync`` → ``sync_planned_batch``
(per batch: loads its ids from the store, then ``sync_batch``) → ``finish_sync``. ``run_sync`` runs
all three in-process for the CLI and the tests.

Incremental: a daily sync fetches only the records posted since the last synced data build (less an
overlap) plus trials never fetched; a full reconciliation (every watched trial, memberships and
"left the query") runs weekly, on the first sync, when the watchlists changed and on demand
(``decide_scope``; docs/design.md, "Incremental syncs").

Exactly once: ``plan_sync`` takes the store's sync lease (``store.lease``) for its run, every batch
checks that its run still holds it, ``finish_sync`` gives it back; a second sync meanwhile records a
"skipped" run and stops with ``SyncBusy``. Versions and events also carry unique keys, so even a sync
that bypassed the lease cannot store one twice. ``sync_gate`` decides whether the hourly run syncs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trialwatch import findings, records, safejson, settings
from trialwatch.diff import (
    Thresholds,
    alias_event,
    diff_canonical,
    left_query_event,
    record_gone_event,
)
from trialwatch.registry.client import CtgovClient, updated_since
from trialwatch.registry.errors import HistoryUnavailable, RegistryError, SearchCutOff
from trialwatch.registry.history import HistoryAdapter, place_by_date
from trialwatch.registry.served import ServedStudy, as_dict
from trialwatch.store import Store, plans
from trialwatch.store import backfill as backfill_queue
from trialwatch.store import findings as stored_findings
from trialwatch.store import lease as sync_lease
from trialwatch.store import repository as repo
from trialwatch.store.errors import StoreError, WriteConflict
from trialwatch.watchlists import Watchlist

log = logging.getLogger(__name__)

# Trials per sync batch. Each batch has a fixed cost: its lease and run-counter writes, the gate's
# query, its commits; under Airflow also a mapped task (about a second of task-supervisor CPU). At
# 500 a registry-wide first sync ingested 9% more studies per CPU-second than at 100 (bench_sync).
DEFAULT_BATCH_SIZE = 500
MAX_BATCHES = 1000
# A batch extends its run's lease at most this often (each extension is a write).
LEASE_EXTEND_EVERY = timedelta(minutes=1)
# Planned batches written per transaction (a registry-wide plan is up to MAX_BATCHES rows).
PLAN_ROWS_PER_TRANSACTION = 100
# Explicitly listed ids per "updated since" check (filter.ids); the fetch batches use the same size.
ID_CHECK_BATCH = 100
# Trials found by a query before, per "updated since" check by id. 300 ids make a URL of about
# 4,400 characters ("|" travels as %7C), half the 8 KB request line common servers and proxies take.
MEMBER_CHECK_BATCH = 300
# Fetched records a batch gates, diffs and writes at a time (see sync_batch).
GATE_PART = 100
# Trials per transaction when findings are evaluated after a sync.
FINDINGS_CHUNK = 200
# Failures that could not be written because the store was unreachable, recorded by the next run.
UNRECORDED_FILE = "unrecorded_sync_failures.jsonl"


class OlderVersionServed(Exception):
    """The registry answered with an older version than the one stored (a stale mirror or replay day)."""


class SyncUsageError(ValueError):
    """The sync was asked for something malformed (e.g. an id that is no NCT id): nothing was done."""


class SyncBusy(RuntimeError):
    """Another sync holds the store's sync lease; this one was recorded as skipped and did nothing."""


class SyncAborted(RuntimeError):
    """The sync could not run (the registry's /version failed, ...); recorded as a failed run."""


def parse_nct_ids(values: Sequence[object], *, what: str = "--ids") -> list[str]:
    """NCT ids from ids or study URLs, in order, without repeats; a value holding none is an error."""
    ids: dict[str, None] = {}
    for value in values:
        found = records.extract_nct_ids(str(value))
        if not found:
            raise SyncUsageError(
                f"{what}: {value!r} is not an NCT id (NCT followed by 8 digits) or a study URL"
            )
        ids.update(dict.fromkeys(found))
    return list(ids)


def watchlist_fingerprint(watchlists: Sequence[Watchlist]) -> str:
    """What decides which trials are watched (names, ids, queries); recipients and layout do not count."""
    shape = sorted(
        [
            w.name,
            sorted(w.nct_ids),
            sorted([q.name, sorted(q.params.items()), q.max_results] for q in w.queries),
        ]
        for w in watchlists
    )
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass
class SyncPlan:
    run_id: int
    data_timestamp: str | None
    # One descriptor per planned batch, {run, batch, label, size}; the ids are in the store.
    batches: list[dict[str, Any]]
    # "full" (a reconciliation), "incremental", "ids" or "new", and why.
    scope: str = "full"
    reason: str = ""
    # Who holds the sync lease for this run; every batch checks it.
    lease: str = ""

    @property
    def requested(self) -> int:
        return sum(int(batch["size"]) for batch in self.batches)

    def mapped_batches(self) -> list[dict[str, Any]]:
        """One keyword set per batch for Airflow's ``expand_kwargs``: small and never empty."""
        return [dict(batch) for batch in self.batches]


def batch_label(nct_ids: Sequence[str]) -> str:
    """A short label for a batch (the Airflow UI's mapped task name, logs)."""
    if not nct_ids:
        return "no trials"
    if len(nct_ids) == 1:
        return nct_ids[0]
    return f"{nct_ids[0]}…{nct_ids[-1]} ({len(nct_ids)} trials)"


@dataclass
class BatchSummary:
    fetched: int = 0
    unchanged: int = 0
    new_trials: int = 0
    versions: int = 0
    events: int = 0
    changed: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def merge(self, other: BatchSummary) -> None:
        for name in ("fetched", "unchanged", "new_trials", "versions", "events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.changed += other.changed
        self.failures += other.failures
        self.notes += [n for n in other.notes if n not in self.notes]


@dataclass
class SyncSummary(BatchSummary):
    run_id: int = 0
    data_timestamp: str | None = None
    requested: int = 0
    status: str = "ok"
    scope: str = "full"


@dataclass
class _Members:
    """One watchlist resolved: nct_id -> "id" | "query", what went wrong, and whether it is the whole set."""

    via: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    # Ids to fetch that are no members (the current id of a listed alias).
    also: list[str] = field(default_factory=list)


def _watched_ids(client: CtgovClient, watchlist: Watchlist) -> _Members:
    members = _Members()
    for query in watchlist.queries:
        try:
            found = client.search_ids(query.params, max_results=query.max_results)
        except RegistryError as exc:
            members.complete = False
            members.failures.append(f"watchlist {watchlist.name!r}, query {query.name!r}: {exc}")
            log.error("query %r of watchlist %r failed: %s", query.name, watchlist.name, exc)
            if isinstance(exc, SearchCutOff):  # paging stopped early: what came before is real
                members.via.update(dict.fromkeys(exc.found, "query"))
            continue
        log.info("watchlist %r query %r matched %d trials", watchlist.name, query.name, len(found))
        if len(found) >= query.max_results:
            # Cut off: a trial missing from this answer may still match, so nobody "left" the query.
            members.complete = False
            members.notes.append(
                f"Watchlist {watchlist.name!r}, query {query.name!r} reached max_results "
                f"({query.max_results}): only the first {query.max_results} matches are watched."
            )
        members.via.update({nct_id: "query" for nct_id in found})
    members.via.update({nct_id: "id" for nct_id in watchlist.nct_ids})
    return members


def _updated_ids(
    client: CtgovClient,
    watchlist: Watchlist,
    since: date,
    *,
    found_before: Sequence[str] = (),
    checked: dict[str, bool] | None = None,
) -> _Members:
    """The watchlist's trials whose last update was posted on or after ``since``: each query with the
    date window added, the listed ids checked in ``filter.ids`` batches with the same window, and so
    are the trials its queries found before (``found_before``) that this run's listing did not return.

    A query's date-filtered listing cannot see a member that no longer matches it (RECRUITING →
    COMPLETED under ``filter.overallStatus=RECRUITING``); checked by id, it is fetched the day its
    change is posted. Such trials are fetched, not counted as members (``also``): whether they left
    the query is for the reconciliation to say. ``checked`` carries the answers across watchlists,
    so a trial is asked about once per run.

    Never complete: who is missing was not updated, not gone, so an incremental run marks nobody as
    having left. Listed ids the registry answers for under another id (an alias) are fetched too.
    """
    members = _Members(complete=False)
    for query in watchlist.queries:
        try:
            found = client.search_ids(updated_since(query.params, since), max_results=query.max_results)
        except RegistryError as exc:
            members.failures.append(f"watchlist {watchlist.name!r}, query {query.name!r}: {exc}")
            log.error("query %r of watchlist %r failed: %s", query.name, watchlist.name, exc)
            if isinstance(exc, SearchCutOff):
                members.via.update(dict.fromkeys(exc.found, "query"))
            continue
        log.info(
            "watchlist %r query %r: %d trials posted an update since %s",
            watchlist.name,
            query.name,
            len(found),
            since,
        )
        members.via.update(dict.fromkeys(found, "query"))
    unseen = [nct_id for nct_id in found_before if nct_id not in members.via]
    members.also += _updated_by_id(client, unseen, since, {} if checked is None else checked)
    listed = list(watchlist.nct_ids)
    for start in range(0, len(listed), ID_CHECK_BATCH):
        batch = listed[start : start + ID_CHECK_BATCH]
        try:
            found = client.search_ids(updated_since({"filter.ids": "|".join(batch)}, since))
        except RegistryError as exc:
            # One id the registry does not know rejects a filter.ids batch: fetch them all instead.
            log.warning("update check of %d listed ids failed (%s); fetching them all", len(batch), exc)
            found = batch
        asked = set(batch)
        for nct_id in found:
            if nct_id in asked:
                members.via[nct_id] = "id"
            else:
                members.also.append(nct_id)
    return members


def _updated_by_id(
    client: CtgovClient, nct_ids: Sequence[str], since: date, checked: dict[str, bool]
) -> list[str]:
    """Of ``nct_ids``, those posted on or after ``since``, asked in ``filter.ids`` batches of
    MEMBER_CHECK_BATCH with the window and ``fields=NCTId``; ids in ``checked`` are not asked again.

    A batch the registry rejects (one id it no longer has fails the whole batch) counts as updated,
    so its trials are fetched and a gone one is found out. An id answered that was not asked for
    (the current id of an alias) is returned too.
    """
    wanted = list(dict.fromkeys(nct_ids))
    ask = [nct_id for nct_id in wanted if nct_id not in checked]
    answered: list[str] = []
    for start in range(0, len(ask), MEMBER_CHECK_BATCH):
        batch = ask[start : start + MEMBER_CHECK_BATCH]
        try:
            found = set(client.search_ids(updated_since({"filter.ids": "|".join(batch)}, since)))
        except RegistryError as exc:
            log.warning("update check of %d query members failed (%s); fetching them all", len(batch), exc)
            found = set(batch)
        checked.update({nct_id: nct_id in found for nct_id in batch})
        answered += sorted(found - set(batch))
    if ask:
        log.info(
            "%d of %d trials found by queries before were checked by id: %d posted an update since %s",
            len(ask),
            len(wanted),
            sum(checked[nct_id] for nct_id in ask),
            since,
        )
    return [nct_id for nct_id in wanted if checked[nct_id]] + answered


def _now() -> datetime:
    return datetime.now(UTC)


def remember_unrecorded(reason: str) -> None:
    """The store is unreachable: keep the failure in TRIALWATCH_HOME for the next run to record."""
    line = json.dumps({"at": _now().isoformat(), "error": reason})
    try:
        settings.home().mkdir(parents=True, exist_ok=True)
        with (settings.home() / UNRECORDED_FILE).open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    except OSError as exc:
        log.error("could not keep the unrecorded sync failure in %s: %s", settings.home(), exc)


def _record_unrecorded(store: Store) -> None:
    """Write failures kept while the store was unreachable as failed runs, then forget them."""
    path = settings.home() / UNRECORDED_FILE
    if not path.exists():
        return
    pending = path.read_text(encoding="utf-8").splitlines()
    with store.session() as session:
        for line in pending:
            try:
                item = json.loads(line)
                at = datetime.fromisoformat(item["at"])
                reason = str(item["error"])
            except (ValueError, KeyError, TypeError):
                log.warning("%s: ignored an unreadable line: %r", path, line[:200])
                continue
            repo.record_ended_run(session, status="failed", reason=reason, started_at=at)
    path.unlink(missing_ok=True)
    log.info("recorded %d sync failure(s) from when the store was unreachable", len(pending))


def store_unreachable(exc: StoreError) -> str:
    """One line for a store that went away; the failure is kept and recorded by the next run."""
    detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    reason = f"the store was unreachable, the sync did not run: {type(exc).__name__}: {detail}"
    log.error("%s", reason)
    remember_unrecorded(reason)
    return reason


def _take_lease(store: Store, holder: str, scope: str, wait: float) -> None:
    """Take the sync lease, waiting up to ``wait`` seconds; a busy store is recorded and raised."""
    deadline = time.monotonic() + wait
    while True:
        with store.session() as session:
            busy = sync_lease.acquire(session, holder, now=_now())
        if busy is None:
            return
        if time.monotonic() >= deadline:
            reason = f"skipped: {busy.describe()}"
            with store.session() as session:
                repo.record_ended_run(session, status="skipped", reason=reason, scope=scope)
            log.warning("%s", reason)
            raise SyncBusy(f"another sync is running ({busy.describe()}); this one did nothing")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def abandon_sync(store: Store, run_id: int | None, holder: str, reason: str) -> None:
    """Close the run as failed with ``reason`` and release the lease, as far as the store lets us."""
    try:
        with store.session() as session:
            if run_id is not None:
                repo.fail_sync_run(session, run_id, reason)
            sync_lease.release(session, holder)
    except StoreError as exc:
        store_unreachable(exc)


@dataclass(frozen=True)
class Scope:
    """What a daily sync fetches: "full" (reconcile everything) or "incremental" (posted since ``since``)."""

    scope: str
    reason: str
    since: date | None = None


def _build_date(data_timestamp: str | None) -> date | None:
    try:
        return date.fromisoformat(str(data_timestamp)[:10]) if data_timestamp else None
    except ValueError:
        return None


def decide_scope(
    store: Store,
    watchlists: Sequence[Watchlist],
    data_timestamp: str | None,
    *,
    reconcile: bool = False,
    reconcile_days: int = settings.DEFAULT_RECONCILE_DAYS,
    overlap_days: int = settings.DEFAULT_SYNC_OVERLAP_DAYS,
) -> Scope:
    """Full reconciliation or incremental sync, by the registry's data build dates (never the clock).

    Full when asked for, on the first sync, when the watchlists differ from the ones the last
    reconciliation resolved, or when this build is ``reconcile_days`` or more after the build it
    read. Otherwise incremental from the last synced build's date less ``overlap_days``.
    """
    if reconcile:
        return Scope("full", "a full reconciliation was asked for")
    with store.session() as session:
        last = repo.last_reconciliation(session)
        synced = _build_date(repo.last_data_timestamp(session))
    if last is None:
        return Scope("full", "first sync: nothing was reconciled yet")
    if last.watchlist_fingerprint != watchlist_fingerprint(watchlists):
        return Scope("full", "the watchlists changed since the last reconciliation")
    build, reconciled = _build_date(data_timestamp), _build_date(last.data_timestamp)
    if build is None or reconciled is None or synced is None:
        return Scope("full", "the date of a registry data build is unknown")
    age = (build - reconciled).days
    if age >= reconcile_days:
        return Scope(
            "full",
            f"the last reconciliation read the data build of {reconciled}, {age} day(s) before this "
            f"one (every {reconcile_days})",
        )
    since = synced - timedelta(days=overlap_days)
    return Scope(
        "incremental",
        f"records posted since {since} (last synced build {synced} less {overlap_days} day(s)); "
        f"last reconciliation {reconciled}",
        since,
    )


def plan_sync(
    store: Store,
    client: CtgovClient,
    watchlists: Sequence[Watchlist],
    *,
    only_ids: Sequence[str] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    watchlist_errors: Sequence[object] = (),
    new_only: bool = False,
    reconcile: bool = False,
    reconcile_days: int = settings.DEFAULT_RECONCILE_DAYS,
    overlap_days: int = settings.DEFAULT_SYNC_OVERLAP_DAYS,
    lock_wait: float = 0.0,
) -> SyncPlan:
    """Take the sync lease, open a sync run, resolve the watchlists to NCT ids and store the batches.

    With ``only_ids`` the run fetches just those trials and leaves memberships alone. With
    ``new_only`` it resolves the watchlists but fetches only trials never stored (the watchlists
    changed). Otherwise ``decide_scope`` makes it a full reconciliation (``reconcile`` forces one)
    or an incremental sync. Broken watchlist files (``watchlist_errors``) are recorded with the run,
    so the digest's health footer and the Trial Watch health page show them. Raises
    ``SyncUsageError`` for a malformed id, ``SyncBusy`` if another sync holds the lease (waiting up
    to ``lock_wait`` seconds) and ``SyncAborted`` if the registry's /version fails; the last two are
    recorded as runs.
    """
    only = parse_nct_ids(only_ids) if only_ids else []
    scope = "ids" if only else "new" if new_only else "full"
    holder = uuid.uuid4().hex
    _take_lease(store, holder, scope, lock_wait)
    run_id: int | None = None
    try:
        _record_unrecorded(store)
        with store.session() as session:
            run_id = repo.start_sync_run(session, data_timestamp=None, requested=0, scope=scope)
            sync_lease.bind_run(session, holder, run_id)
        plan = _plan(
            store,
            client,
            watchlists,
            run_id,
            only,
            new_only,
            batch_size,
            watchlist_errors,
            reconcile=reconcile,
            reconcile_days=reconcile_days,
            overlap_days=overlap_days,
        )
    except RegistryError as exc:
        reason = f"registry unavailable, nothing was synced: {exc}"
        abandon_sync(store, run_id, holder, reason)
        raise SyncAborted(reason) from exc
    except BaseException as exc:
        abandon_sync(store, run_id, holder, f"the sync stopped while planning: {type(exc).__name__}: {exc}")
        raise
    plan.lease = holder
    return plan


def _plan(
    store: Store,
    client: CtgovClient,
    watchlists: Sequence[Watchlist],
    run_id: int,
    only: list[str],
    new_only: bool,
    batch_size: int,
    watchlist_errors: Sequence[object],
    *,
    reconcile: bool,
    reconcile_days: int,
    overlap_days: int,
) -> SyncPlan:
    data_timestamp = client.version().get("dataTimestamp")
    if only:
        decided = Scope("ids", "given trials")
    elif new_only:
        decided = Scope("new", "trials never fetched")
    else:
        decided = decide_scope(
            store,
            watchlists,
            data_timestamp,
            reconcile=reconcile,
            reconcile_days=reconcile_days,
            overlap_days=overlap_days,
        )
    log.info("sync run %d: %s sync, %s", run_id, decided.scope, decided.reason)
    watched_with: dict[str, list[Thresholds]] = {}
    depths: dict[str, list[int | None]] = {}
    problems: list[str] = [f"watchlist skipped: {error}" for error in watchlist_errors]
    notes: list[str] = []
    wanted: dict[str, None] = {}
    checked: dict[str, bool] = {}  # query members checked by id this run: posted an update?
    if only:
        wanted = dict.fromkeys(only)
    else:
        for watchlist in watchlists:
            if decided.since is not None:
                found_before: list[str] = []
                # A registry-wide query's dated listing already returns every updated member.
                if not any(query.matches_all for query in watchlist.queries):
                    with store.session() as session:
                        found_before = repo.found_by_query(session, watchlist.name)
                members = _updated_ids(
                    client, watchlist, decided.since, found_before=found_before, checked=checked
                )
            else:
                members = _watched_ids(client, watchlist)
            problems += members.failures
            notes += members.notes
            now = repo.utcnow()  # one instant for "left" and its event, so the event still counts
            with store.session() as session:
                left = repo.update_memberships(
                    session, watchlist.name, members.via, now=now, mark_left=members.complete
                )
                for nct_id in left:
                    event = left_query_event(
                        nct_id, watchlist.name, ", ".join(q.name for q in watchlist.queries)
                    )
                    repo.add_study_events(session, nct_id, [event], now=now)
            own = Thresholds.from_mapping(watchlist.thresholds)
            for nct_id in [*members.via, *members.also]:
                wanted.setdefault(nct_id, None)
                watched_with.setdefault(nct_id, []).append(own)
                depths.setdefault(nct_id, []).append(watchlist.history)
    ids = list(wanted)
    if new_only:
        with store.session() as session:
            ids = repo.never_fetched(session, ids)
    if decided.since is not None:
        # Whatever the window: trials never stored, and those the last daily run failed to fetch.
        with store.session() as session:
            extra = [
                nct_id
                for nct_id in [*repo.watched_never_fetched(session), *repo.failed_last_time(session)]
                if nct_id not in wanted
            ]
            owners = repo.watchlists_of(session, extra)
        by_name = {watchlist.name: Thresholds.from_mapping(watchlist.thresholds) for watchlist in watchlists}
        history_of = {watchlist.name: watchlist.history for watchlist in watchlists}
        for nct_id in dict.fromkeys(extra):
            ids.append(nct_id)
            watched_with[nct_id] = [by_name[name] for name in owners.get(nct_id, []) if name in by_name]
            depths[nct_id] = [history_of[name] for name in owners.get(nct_id, []) if name in history_of]
    thresholds = {
        nct_id: Thresholds.most_sensitive(each).to_mapping()
        for nct_id, each in watched_with.items()
        if any(t != Thresholds() for t in each)
    }
    # A trial on several watchlists gets the most history any of them asks for (None: all of it).
    history = {
        nct_id: max(each)  # type: ignore[type-var]
        for nct_id, each in depths.items()
        if each and None not in each
    }
    with store.session() as session:
        repo.describe_sync_run(
            session,
            run_id,
            data_timestamp=data_timestamp,
            studies_requested=len(ids),
            watchlist_fingerprint=None if only else watchlist_fingerprint(watchlists),
            scope=decided.scope,
        )
        if problems or notes:
            failures = [{"nct_id": "", "error": problem} for problem in problems]
            repo.add_to_sync_run(session, run_id, failures=failures, notes=notes)
    batches = _store_batches(store, run_id, ids, thresholds, history, batch_size)
    log.info(
        "sync run %d (%s): %d trials in %d batches (registry data of %s)",
        run_id,
        decided.scope,
        len(ids),
        len(batches),
        data_timestamp,
    )
    return SyncPlan(
        run_id=run_id,
        data_timestamp=data_timestamp,
        batches=batches,
        scope=decided.scope,
        reason=decided.reason,
    )


def _store_batches(
    store: Store,
    run_id: int,
    ids: list[str],
    thresholds: dict[str, dict[str, Any]],
    history: dict[str, int],
    batch_size: int,
) -> list[dict[str, Any]]:
    """Write the run's batches to the store, a chunk of rows per transaction; their descriptors.

    Airflow maps at most [core] max_map_length (1024) tasks: batches grow rather than exceed
    MAX_BATCHES. An empty plan is one empty batch, so the run still closes.
    """
    batch_size = max(1, batch_size, -(-len(ids) // MAX_BATCHES))
    chunks = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)] or [[]]
    planned = [
        plans.PlannedBatch(
            run_id=run_id,
            batch=index,
            label=batch_label(chunk),
            nct_ids=chunk,
            thresholds={nct_id: thresholds[nct_id] for nct_id in chunk if thresholds.get(nct_id)},
            history_depths={nct_id: history[nct_id] for nct_id in chunk if nct_id in history},
        )
        for index, chunk in enumerate(chunks)
    ]
    with store.session() as session:
        plans.clear_other_plans(session, run_id)
    for start in range(0, len(planned), PLAN_ROWS_PER_TRANSACTION):
        with store.session() as session:
            plans.save_batches(session, planned[start : start + PLAN_ROWS_PER_TRANSACTION])
    return [{"run": b.run_id, "batch": b.batch, "label": b.label, "size": b.size} for b in planned]


def run_lease(store: Store, run_id: int) -> str | None:
    """Who holds the sync lease for ``run_id`` (None once the run lost it or gave it back)."""
    with store.session() as session:
        return sync_lease.holder_of(session, run_id)


def sync_planned_batch(
    store: Store, client: CtgovClient, run_id: int, batch: int, *, use_history: bool = True
) -> BatchSummary:
    """Load one planned batch of ``run_id`` from the store and fetch it under the run's lease."""
    with store.session() as session:
        planned = plans.load_batch(session, run_id, batch)
        data_timestamp = repo.sync_run_data_timestamp(session, run_id)
        lease = sync_lease.holder_of(session, run_id)
    if lease is None:
        raise sync_lease.LeaseLost(f"sync run {run_id} no longer holds the store's sync lease")
    return sync_batch(
        store,
        client,
        planned.nct_ids,
        run_id=run_id,
        data_timestamp=data_timestamp,
        thresholds=planned.thresholds,
        use_history=use_history,
        lease=lease,
        history_depths=planned.history_depths,
    )


@dataclass
class GateDecision:
    """Whether the hourly run syncs: "daily" (new registry data: the plan picks a full or incremental
    sync), "new" (watchlists changed), or ""."""

    mode: str
    reason: str

    def __bool__(self) -> bool:
        return bool(self.mode)


def sync_gate(store: Store, client: CtgovClient, watchlists: Sequence[Watchlist]) -> GateDecision:
    """Sync the day when the registry published a new data build (``plan_sync`` decides between a full
    reconciliation and an incremental sync); fetch only never-stored trials when the watchlists
    changed or a listed trial was never fetched; else do nothing.

    A /version failure is recorded as a failed run (the health page shows it) and raised as SyncAborted.
    """
    try:
        published = client.version().get("dataTimestamp")
    except RegistryError as exc:
        reason = f"registry unavailable, nothing was synced: {exc}"
        with store.session() as session:
            repo.record_ended_run(session, status="failed", reason=reason)
        raise SyncAborted(reason) from exc
    with store.session() as session:
        seen = repo.last_data_timestamp(session)
        if published != seen:
            return GateDecision("daily", f"registry data build {published}; last synced build {seen}")
        if watchlist_fingerprint(watchlists) != repo.last_watchlist_fingerprint(session):
            return GateDecision("new", "the watchlists changed since the last sync")
        listed = [nct_id for watchlist in watchlists for nct_id in watchlist.nct_ids]
        not_found = repo.reported_not_found(session)
        missing = [nct_id for nct_id in repo.never_fetched(session, listed) if nct_id not in not_found]
    if missing:
        return GateDecision(
            "new", f"{len(missing)} watched trial(s) never fetched: {', '.join(missing[:10])}"
        )
    return GateDecision("", f"registry data build {published} already synced; watchlists unchanged")


def _version_chain(
    history: HistoryAdapter,
    nct_id: str,
    current: dict[str, Any],
    *,
    known: bool,
    after: int | None,
    posted: str | None = None,
) -> list[tuple[dict[str, Any], int, str]]:
    """(study, registry version, version date) for every registry version newer than ``after``.

    A new trial gets its whole history. A known trial stored without a version number is placed by
    its posting date (``posted``), else at the newest version. The newest version is the record just fetched; only the versions in
    between are fetched again.
    """
    infos = history.versions(nct_id)
    if known and after is not None and infos and infos[-1].version < after:
        raise OlderVersionServed(
            f"{nct_id}: the registry serves version {infos[-1].version}, older than the stored version {after}"
        )
    if known and after is None and infos:
        # Stored before its history was read (a new trial): its posting date says which version it is.
        if posted is not None and posted > infos[-1].date:
            raise OlderVersionServed(
                f"{nct_id}: the registry's newest version {infos[-1].version} ({infos[-1].date}) is older "
                f"than the stored record, posted {posted}"
            )
        placed = place_by_date(infos, posted)
        after = placed.version if placed is not None and placed.version < infos[-1].version else None
    if known:
        infos = [info for info in infos if info.version > after] if after is not None else infos[-1:]
    chain = [(history.study_at(nct_id, info.version), info.version, info.date) for info in infos[:-1]]
    if infos:
        chain.append((current, infos[-1].version, infos[-1].date))
    return chain


def record_study(
    store: Store,
    fetched: Mapping[str, Any],
    *,
    history: HistoryAdapter | None,
    data_timestamp: str | None,
    thresholds: Thresholds | None = None,
    canonical: dict[str, Any] | None = None,
    history_depth: int | None = None,
) -> BatchSummary:
    """Store one fetched record: nothing if its content is unchanged, else every new version.

    ``canonical``: the record's canonical form when the caller already made it (the batch gate).
    A new trial's current version is stored alone; with ``history`` its older versions go to the
    backfill queue (``history_depth`` of them, None for all, 0 for none).
    """
    summary = BatchSummary(fetched=1)
    study = as_dict(fetched)
    nct_id = records.check_study(study)
    # Each version is put in canonical form once: for its hash and, if it changed, for the diff.
    new_canonical = canonical if canonical is not None else records.canonical_form(study)
    new_hash = records.hash_canonical(new_canonical)
    stored_canonical: dict[str, Any] | None = None
    with store.session() as session:
        _, stored = repo.current_version(session, nct_id)
        stored_hash = stored.content_hash if stored is not None else None
        if stored is not None and repo.is_pending(stored_hash):
            stored_canonical = records.canonical_form(stored.raw_json)
            stored_hash = records.hash_canonical(stored_canonical)
            repo.resolve_hashes(session, {stored.id: (nct_id, stored.content_hash, stored_hash)})
        if stored is not None and stored_hash == new_hash:
            repo.touch_fetched(session, [nct_id])
            summary.unchanged = 1
            return summary

    after = stored.registry_version if stored is not None else None
    chain: list[tuple[dict[str, Any], int | None, str | None]]
    try:
        chain = (
            _version_chain(history, nct_id, study, known=True, after=after, posted=_posted(stored))
            if history is not None and stored is not None
            else []
        )
    except HistoryUnavailable as exc:
        log.warning(
            "%s: version history unavailable (%s); diffing against the current record only", nct_id, exc
        )
        summary.notes.append(f"Version history unavailable ({exc}); changes are current-version diffs.")
        chain = []
    except OlderVersionServed as exc:
        # Never report a step back in time as a change: keep the newer stored version.
        log.warning("%s; kept the stored version", exc)
        summary.notes.append(f"{exc}; the stored version was kept.")
        with store.session() as session:
            repo.touch_fetched(session, [nct_id])
        summary.unchanged = 1
        return summary
    if not chain:
        chain = [(study, None, None)]

    backfill = stored is None
    prev_canonical = (
        (stored_canonical or records.canonical_form(stored.raw_json)) if stored is not None else None
    )
    prev_hash = stored_hash
    prev_version = stored.registry_version if stored is not None else None
    prev_date = stored.registry_version_date if stored is not None else None
    versions: list[repo.NewVersion] = []
    for version_study, version, version_date in chain:
        if version_study is study:
            canonical, version_hash = new_canonical, new_hash
        else:
            canonical = records.canonical_form(version_study)
            version_hash = records.hash_canonical(canonical)
        if version_hash == prev_hash:
            continue  # a registry version with no monitored change
        events = []
        if prev_canonical is not None and prev_hash is not None:
            events = diff_canonical(
                prev_canonical,
                canonical,
                nct_id=nct_id,
                thresholds=thresholds,
                old_hash=prev_hash,
                new_hash=version_hash,
                old_version=prev_version,
                new_version=version,
                old_version_date=prev_date,
                new_version_date=version_date,
            )
        versions.append(
            repo.NewVersion(
                study=version_study,
                content_hash=version_hash,
                events=events,
                registry_version=version,
                registry_version_date=version_date,
                source="current" if version_study is study else "history",
                backfill=backfill,
                quick_hash=records.quick_hash(study) if version_study is study else None,
            )
        )
        prev_canonical, prev_hash, prev_version, prev_date = canonical, version_hash, version, version_date

    try:
        with store.session() as session:
            summary.events = repo.store_versions(session, nct_id, versions, data_timestamp=data_timestamp)
            if backfill and history is not None:  # a new trial: its history is fetched later
                backfill_queue.enqueue(
                    session, nct_id, depth=history_depth, posted=records.last_update_posted(study), now=_now()
                )
    except WriteConflict as exc:
        if not repo.is_duplicate(exc):
            raise
        # Another sync stored these versions between our read and our write: nothing to add.
        log.warning("%s: already recorded by another sync; nothing stored twice", nct_id)
        summary.unchanged = 1
        return summary
    summary.versions = len(versions)
    summary.new_trials = int(backfill)
    if summary.events and not backfill:
        summary.changed.append(nct_id)
    log.info(
        "%s: %s, %d version(s) stored, %d event(s)%s",
        nct_id,
        "new trial" if backfill else "changed",
        len(versions),
        summary.events,
        " (backfilled history)" if backfill and len(versions) > 1 else "",
    )
    if not backfill:
        for version in versions:
            for event in version.events:
                log.info(
                    "  %s v%s [%s] %s: %s → %s %s",
                    nct_id,
                    "?" if event.new_version is None else event.new_version,
                    event.severity,
                    event.field,
                    _short(event.old),
                    _short(event.new),
                    event.detail,
                )
    return summary


def _posted(stored: Any) -> str | None:
    return records.last_update_posted(stored.raw_json) if stored is not None else None


def _short(value: Any, limit: int = 60) -> str:
    text = " ".join(str(value).split()) if value is not None else "(none)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class BatchGate:
    """What the batch gate decided for each fetched record."""

    # content hash, and the quick hash to keep (None: the stored one matched)
    unchanged: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    writes: list[repo.StudyWrite] = field(default_factory=list)  # new trials stored without history
    # changed trials without history: record, canonical form, content hash, quick hash, stored version
    changed: dict[str, tuple[dict[str, Any], dict[str, Any], str, str, int]] = field(default_factory=dict)
    prepared: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)  # to record
    failures: list[dict[str, str]] = field(default_factory=list)


def gate_batch(
    studies: Mapping[str, Mapping[str, Any]], state: dict[str, repo.Stored], *, use_history: bool
) -> BatchGate:
    """Sort fetched records against the stored state (``repo.gate_state``), without touching the store.

    The quick hash settles most records, from the bytes as served where the fetch kept them
    (``ServedStudy``: such a record is never decoded); the canonical form is made only where it
    differs, and not at all for a new trial without history (its hash waits: see ``repo.PENDING_HASH``).
    """
    gate = BatchGate()
    with safejson.collector_paused():  # records decoded here: one collection after the batch, not many
        for nct_id, fetched in studies.items():
            _gate_one(gate, nct_id, fetched, state.get(nct_id), use_history=use_history)
    return gate


def _gate_one(
    gate: BatchGate, nct_id: str, fetched: Mapping[str, Any], stored: repo.Stored | None, *, use_history: bool
) -> None:
    try:
        if isinstance(fetched, ServedStudy):
            quick = fetched.quick_hash()
        else:
            records.check_study(fetched)
            quick = records.quick_hash(fetched)  # type: ignore[arg-type]
        current = stored.current_hash if stored is not None and stored.current_version_id else None
        if current is not None and quick == stored.quick_hash:  # type: ignore[union-attr]
            gate.unchanged[nct_id] = (current, None)  # its quick hash is stored already
            return
        if current is None and not use_history:
            version = _first_version(fetched, quick)
            gate.writes.append(repo.StudyWrite(nct_id, version, None, has_row=stored is not None))
            return
        study = as_dict(fetched)
        if study is not fetched:
            records.check_study(study)
        canonical = records.canonical_form(study)
        new_hash = records.hash_canonical(canonical)
        if current is not None and new_hash == current:
            gate.unchanged[nct_id] = (current, quick)
        elif current is not None and not use_history:
            gate.changed[nct_id] = (study, canonical, new_hash, quick, stored.current_version_id)  # type: ignore[union-attr]
        else:
            gate.prepared[nct_id] = (study, canonical)
    except Exception as exc:  # one malformed record must not cost the rest of the batch
        log.exception("%s: could not record the fetched study", nct_id)
        gate.failures.append({"nct_id": nct_id, "error": f"{type(exc).__name__}: {exc}"})


def _first_version(fetched: Mapping[str, Any], quick: str) -> repo.NewVersion:
    """A new trial's version, stored without history. Where the fetch kept its bytes it is stored as
    served, and only what its overview shows is decoded (``ServedStudy.outline``): decoding and then
    freeing a whole record cost more than everything else a new trial needs."""
    served = outline = None
    if isinstance(fetched, ServedStudy):  # a plain record was checked already (_gate_one)
        served = fetched.json()
        outline = fetched.outline(served)
        if outline is None:
            records.check_study(fetched.study)  # decoded whole: it names what is wrong
    return repo.NewVersion(
        fetched,
        repo.pending_hash(quick),
        [],
        backfill=True,
        quick_hash=quick,
        served_json=served,
        outline=outline,
    )


# No garbage collection while a batch runs: its records become hundreds of thousands of objects that
# live until it ends, then go by reference counting; a collection meanwhile would only scan them.
@safejson.collector_paused()
def sync_batch(
    store: Store,
    client: CtgovClient,
    nct_ids: Sequence[str],
    *,
    run_id: int,
    data_timestamp: str | None,
    thresholds: dict[str, dict[str, Any]] | None = None,
    use_history: bool = True,
    lease: str | None = None,
    history_depths: dict[str, int] | None = None,
) -> BatchSummary:
    """Fetch one batch and record it. One bad record is reported and does not stop the others.

    ``lease``: the holder from the plan; the batch stops with LeaseLost if its run no longer holds
    the sync lease. Without it (tests that bypass the lease) only the unique keys guard the store.
    ``history_depths``: how many older versions to backfill for a new trial, where not all.
    """
    summary = BatchSummary()
    keep_lease = _lease_keeper(store, lease, run_id)
    keep_lease(True)
    history = HistoryAdapter(client) if use_history else None
    result = client.fetch_studies(list(nct_ids))
    log.info(
        "batch of %d: %d fetched, %d aliases, %d not returned (404), %d errors",
        len(nct_ids),
        len(result.studies),
        len(result.aliases),
        len(result.missing),
        len(result.errors),
    )
    aliased_from = {canonical: requested for requested, canonical in result.aliases.items()}

    def thresholds_of(nct_id: str) -> Thresholds | None:
        config = (thresholds or {}).get(nct_id) or (thresholds or {}).get(aliased_from.get(nct_id, ""))
        return Thresholds.from_mapping(config) if config else None

    # A part at a time: the batch gate (one query for the stored state, one statement for every
    # unchanged record), the diffs and the writes. A changed record is decoded with its canonical form
    # and its stored version's, so memory grows with the changed records held at once, not the batch.
    fetched = list(result.studies.items())
    result.studies.clear()  # a part's records, decoded or not, go when the next part starts
    while fetched:
        part = dict(fetched[:GATE_PART])
        del fetched[:GATE_PART]
        with store.session() as session:
            state = repo.gate_state(session, part)
        gate = gate_batch(part, state, use_history=history is not None)
        summary.failures += gate.failures
        prepared, unchanged, writes, changed = gate.prepared, gate.unchanged, gate.writes, gate.changed
        keep_lease(False)
        resolved = _diff_changed(store, changed, thresholds_of, writes, unchanged, summary)
        keep_lease(False)
        _write_batch(store, writes, unchanged, resolved, data_timestamp, summary, run_id=run_id)
        summary.fetched += len(unchanged)
        summary.unchanged += len(unchanged)
        for nct_id, (study, canonical) in prepared.items():
            keep_lease(False)
            try:
                summary.merge(
                    record_study(
                        store,
                        study,
                        history=history,
                        data_timestamp=data_timestamp,
                        thresholds=thresholds_of(nct_id),
                        canonical=canonical,
                        history_depth=(history_depths or {}).get(nct_id),
                    )
                )
            except StoreError:
                raise  # the store itself failed: the batch cannot go on
            except Exception as exc:  # one malformed record must not cost the rest of the batch
                log.exception("%s: could not record the fetched study", nct_id)
                summary.failures.append({"nct_id": nct_id, "error": f"{type(exc).__name__}: {exc}"})
    for requested, canonical in result.aliases.items():
        if _record_once(store, requested, lambda s, r=requested, c=canonical: _alias(s, r, c)):
            summary.events += 1
    for nct_id in result.missing:
        with store.session() as session:
            known = repo.ever_stored(session, nct_id)
        if not known:
            # Never stored: a wrong id in a watchlist, not a trial that disappeared.
            log.warning("%s: %s", nct_id, repo.NOT_FOUND)
            summary.failures.append({"nct_id": nct_id, "error": repo.NOT_FOUND})
            continue
        if _record_once(store, nct_id, lambda s, n=nct_id: _gone(s, n)):
            summary.events += 1
            summary.changed.append(nct_id)
    summary.failures += [{"nct_id": nct_id, "error": error} for nct_id, error in result.errors.items()]
    with store.session() as session:
        if lease is not None:
            sync_lease.extend(session, lease, run_id, now=_now())
        repo.add_to_sync_run(
            session,
            run_id,
            fetched=summary.fetched,
            versions=summary.versions,
            events=summary.events,
            failures=summary.failures,
            notes=summary.notes,
        )
    return summary


def _diff_changed(
    store: Store,
    changed: dict[str, tuple[dict[str, Any], dict[str, Any], str, str, int]],
    thresholds_of: Callable[[str], Thresholds | None],
    writes: list[repo.StudyWrite],
    unchanged: dict[str, tuple[str, str | None]],
    summary: BatchSummary,
) -> dict[int, tuple[str, str, str]]:
    """Diff each changed record against its stored version (read in one query); without history.

    Adds a write per real change and an unchanged mark per record whose content proved the same.
    Returns the pending hashes found real on the way (version id -> (nct_id, pending, real)).
    """
    if not changed:
        return {}
    with store.session() as session:
        stored = repo.versions_by_id(session, [item[4] for item in changed.values()])
    resolved: dict[int, tuple[str, str, str]] = {}
    for nct_id, (study, canonical, new_hash, quick, version_id) in changed.items():
        try:
            old = stored[version_id]
            old_canonical = records.canonical_form(old.study)
            old_hash = old.content_hash
            if repo.is_pending(old_hash):
                old_hash = records.hash_canonical(old_canonical)
                resolved[old.id] = (nct_id, old.content_hash, old_hash)
            if old_hash == new_hash:
                unchanged[nct_id] = (old_hash, quick)
                continue
            events = diff_canonical(
                old_canonical,
                canonical,
                nct_id=nct_id,
                thresholds=thresholds_of(nct_id),
                old_hash=old_hash,
                new_hash=new_hash,
                old_version=old.registry_version,
                new_version=None,
                old_version_date=old.registry_version_date,
                new_version_date=None,
            )
        except Exception as exc:  # one malformed record must not cost the rest of the batch
            log.exception("%s: could not record the fetched study", nct_id)
            summary.failures.append({"nct_id": nct_id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        version = repo.NewVersion(study, new_hash, events, quick_hash=quick)
        writes.append(repo.StudyWrite(nct_id, version, old.id, has_row=True))
    return resolved


def _write_batch(
    store: Store,
    writes: list[repo.StudyWrite],
    unchanged: dict[str, tuple[str, str | None]],
    resolved: dict[int, tuple[str, str, str]],
    data_timestamp: str | None,
    summary: BatchSummary,
    *,
    run_id: int,
) -> None:
    """Everything the batch gate decided, in one transaction; trial by trial if a unique key breaks.

    Every record was checked and diffed before, so only the store can fail here: a row another sync
    stored first fails the batch's statement, and storing trial by trial then tells which.
    """
    written: dict[str, int | None] = {}
    try:
        with store.session() as session:
            repo.resolve_hashes(session, resolved)
            repo.mark_unchanged(session, unchanged)
            written.update(repo.store_batch(session, writes, data_timestamp=data_timestamp))
            _evaluate_new_trials(session, run_id, [w for w in writes if not w.has_row])
    except WriteConflict as exc:
        log.warning("the batch broke a unique key (%s); storing it trial by trial", exc.orig)
        with store.session() as session:
            repo.resolve_hashes(session, resolved)
            repo.mark_unchanged(session, unchanged)
        for write in writes:
            try:
                with store.session() as session:
                    if repo.current_version_id(session, write.nct_id) != write.after_id:
                        # Another sync moved this trial on since the gate read it: its version stands.
                        log.warning(
                            "%s: already recorded by another sync; nothing stored twice", write.nct_id
                        )
                        written[write.nct_id] = None
                        continue
                    written[write.nct_id] = repo.store_versions(
                        session, write.nct_id, [write.version], data_timestamp=data_timestamp
                    )
            except WriteConflict as conflict:
                if not repo.is_duplicate(conflict):
                    raise
                log.warning("%s: already recorded by another sync; nothing stored twice", write.nct_id)
                written[write.nct_id] = None
    new_trials = 0
    for write in writes:
        events = written.get(write.nct_id)
        summary.fetched += 1
        if events is None:
            summary.unchanged += 1
            continue
        summary.versions += 1
        summary.events += events
        if write.version.backfill:
            new_trials += 1
        elif events:
            summary.changed.append(write.nct_id)
            log.info("%s: changed, %d event(s)", write.nct_id, events)
    summary.new_trials += new_trials
    if new_trials:
        log.info("%d new trial(s) stored", new_trials)


def _evaluate_new_trials(session: Any, run_id: int, writes: list[repo.StudyWrite]) -> None:
    """The findings of watched trials stored for the first time, from the records in memory.

    On a registry-wide first sync every trial is new, and reading each record back for the run's
    findings step was a tenth of the sync. A new trial has no earlier version and no finding yet, so
    its findings are those of its record as of the run's date; the trials are marked, and that step
    skips them. A record a check cannot read is left to that step, which names it in the run's notes.
    """
    watched = repo.watchlists_of(session, [w.nct_id for w in writes])
    if not watched:
        return
    as_of = stored_findings.run_date(session, run_id)
    found: list[findings.Finding] = []
    due: dict[str, date | None] = {}
    for write in writes:
        if write.nct_id not in watched:
            continue
        version = write.version
        if version.served_json is None:
            record: dict[str, Any] | None = dict(version.study)
        else:
            record = stored_findings.findings_view_of_json(version.served_json)
        if record is None:  # an odd shape: the findings step decodes it whole and names the fault
            continue
        try:
            opened, due[write.nct_id] = findings.evaluate_until(record, as_of=as_of)
        except Exception:  # left unmarked: the findings step evaluates it and names the fault
            log.warning("%s: findings left to the run's findings step", write.nct_id, exc_info=True)
            due.pop(write.nct_id, None)
            continue
        found += opened
    stored_findings.record_findings(session, run_id=run_id, now=_now(), new=found, still_open=[], resolved=[])
    stored_findings.set_findings_due(session, due, in_batch_of=run_id)


def _lease_keeper(store: Store, lease: str | None, run_id: int) -> Callable[[bool], None]:
    """Checks and extends the run's lease: always when forced, else at most every LEASE_EXTEND_EVERY."""
    last: list[float] = []

    def keep(force: bool) -> None:
        if lease is None:
            return
        if not force and last and time.monotonic() - last[0] < LEASE_EXTEND_EVERY.total_seconds():
            return
        with store.session() as session:
            sync_lease.extend(session, lease, run_id, now=_now())
        last[:] = [time.monotonic()]

    return keep


def _alias(session: Any, requested: str, canonical: str) -> bool:
    if not repo.mark_alias(session, requested, canonical):
        return False
    repo.add_study_events(session, requested, [alias_event(requested, canonical)])
    return True


def _gone(session: Any, nct_id: str) -> bool:
    if not repo.mark_gone(session, nct_id):
        return False
    repo.add_study_events(session, nct_id, [record_gone_event(nct_id)])
    return True


def _record_once(store: Store, nct_id: str, write: Callable[[Any], bool]) -> bool:
    """Run ``write`` in its own transaction; an event another sync stored first counts as not new."""
    try:
        with store.session() as session:
            return write(session)
    except WriteConflict as exc:
        if not repo.is_duplicate(exc):
            raise
        log.warning("%s: already recorded by another sync; nothing stored twice", nct_id)
        return False


def update_findings(store: Store, run_id: int, *, as_of: date | None = None) -> dict[str, int]:
    """Evaluate the findings of the watched trials' current versions and store their lifecycle.

    ``as_of`` defaults to the run's date: the registry data build it read (the date its records stand
    on), else the day it started; never today's date. Runs once per sync, after
    the batches, in chunks of ``FINDINGS_CHUNK`` trials per transaction, over the trials whose findings
    could have changed since the last evaluation (``Study.findings_due``). A record a check cannot read
    keeps its open findings and is named in the run's notes.
    """
    counts = {"trials": 0, "new": 0, "resolved": 0, "open": 0}
    with store.session() as session:
        run_day = stored_findings.run_date(session, run_id)
        as_of = as_of or run_day
        # New trials the run's batches evaluated as of its date are done (_evaluate_new_trials).
        in_batches = run_id if as_of == run_day else None
        if in_batches is not None:
            counts["trials"], counts["new"] = stored_findings.evaluated_in_batches(session, run_id)
            counts["open"] = counts["new"]
        # Findings are a function of the record, its earlier versions and the date. Since the last
        # evaluation only trials stored or watched since, and those whose findings_due date (the
        # first day a check could open, resolve or reword a finding) has come, can differ. A date
        # earlier than the last evaluation's re-evaluates every watched trial.
        last = stored_findings.last_evaluation(session, run_id)
        if last is None or as_of < last[0]:
            nct_ids = stored_findings.watched_trial_ids(session, evaluated_by=in_batches)
        else:
            nct_ids = stored_findings.watched_trial_ids(
                session, changed_since=last[1], due_by=as_of, evaluated_by=in_batches
            )
        # Only this run opens findings until it ends (the sync lease), each chunk its own trials': with
        # none open now, no chunk has any to reconcile with (a registry's first evaluation).
        any_open = stored_findings.any_open_findings(session)
    for start in range(0, len(nct_ids), FINDINGS_CHUNK):
        chunk = nct_ids[start : start + FINDINGS_CHUNK]
        new, still, gone = _evaluate_findings(store, run_id, chunk, as_of, any_open=any_open)
        counts["trials"] += len(chunk)
        counts["new"] += new
        counts["resolved"] += gone
        counts["open"] += new + still
    with store.session() as session:
        stored_findings.mark_evaluated(session, run_id, as_of)
    return counts


@safejson.collector_paused()  # as for a sync batch: the chunk's records live until it ends
def _evaluate_findings(
    store: Store, run_id: int, chunk: list[str], as_of: date, *, any_open: bool = True
) -> tuple[int, int, int]:
    """Evaluate and store one chunk's findings; how many were new, still open and resolved."""
    with store.session() as session:
        records_now = stored_findings.current_records(session, chunk)
        anticipated = stored_findings.previous_anticipated(session, chunk)
        open_before = stored_findings.open_findings(session, chunk) if any_open else {}
        new: list[findings.Finding] = []
        still: list[findings.Finding] = []
        gone: list[findings.Finding] = []
        notes: list[str] = []
        due: dict[str, date | None] = {}
        for nct_id in chunk:
            try:
                found, due[nct_id] = findings.evaluate_until(
                    records_now[nct_id], as_of=as_of, previous_anticipated=anticipated.get(nct_id)
                )
            except ValueError as exc:  # MalformedRecord is one
                notes.append(f"findings not evaluated for {nct_id}: {_short(exc, 200)}")
                continue
            opened, kept, resolved = findings.reconcile(open_before.get(nct_id, []), found)
            new += opened
            still += kept
            gone += resolved
        stored_findings.record_findings(
            session, run_id=run_id, now=_now(), new=new, still_open=still, resolved=gone
        )
        stored_findings.set_findings_due(session, due)
        if notes:
            repo.add_to_sync_run(session, run_id, notes=notes)
    return len(new), len(still), len(gone)


def finish_sync(
    store: Store, run_id: int, lease: str | None = None, *, findings_as_of: date | None = None
) -> dict[str, Any]:
    """Evaluate findings, close the run (ok, or partial with failures) and give the sync lease back."""
    with store.session() as session:
        # A run closed meanwhile (its lease expired, another run took over) leaves findings to that run.
        running = stored_findings.run_is_running(session, run_id)
    found = update_findings(store, run_id, as_of=findings_as_of) if running else None
    with store.session() as session:
        run = repo.finish_sync_run(session, run_id)
        if lease is not None:
            sync_lease.release(session, lease)
        result = {
            "run_id": run.id,
            "status": run.status,
            "data_timestamp": run.data_timestamp,
            "requested": run.studies_requested,
            "fetched": run.studies_fetched,
            "versions": run.versions_added,
            "events": run.events_added,
            "failures": list(run.failures),
            "notes": list(run.notes),
            "findings": found,
        }
    log.info(
        "sync run %(run_id)d %(status)s: %(fetched)d/%(requested)d fetched, %(versions)d versions, "
        "%(events)d events, %(failures)s",
        {**result, "failures": f"{len(result['failures'])} failures"},
    )
    return result


def run_sync(
    store: Store,
    client: CtgovClient,
    watchlists: Sequence[Watchlist],
    *,
    only_ids: Sequence[str] = (),
    use_history: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    watchlist_errors: Sequence[object] = (),
    new_only: bool = False,
    reconcile: bool = False,
    reconcile_days: int = settings.DEFAULT_RECONCILE_DAYS,
    overlap_days: int = settings.DEFAULT_SYNC_OVERLAP_DAYS,
    lock_wait: float = 0.0,
) -> SyncSummary:
    """The whole sync in this process (the DAG runs the same three steps as tasks).

    Raises what ``plan_sync`` raises; a run that dies later is closed as failed with its reason.
    """
    plan = plan_sync(
        store,
        client,
        watchlists,
        only_ids=only_ids,
        batch_size=batch_size,
        watchlist_errors=watchlist_errors,
        new_only=new_only,
        reconcile=reconcile,
        reconcile_days=reconcile_days,
        overlap_days=overlap_days,
        lock_wait=lock_wait,
    )
    summary = SyncSummary(run_id=plan.run_id, data_timestamp=plan.data_timestamp, scope=plan.scope)
    try:
        for batch in plan.batches:
            summary.merge(
                sync_planned_batch(store, client, plan.run_id, batch["batch"], use_history=use_history)
            )
        finished = finish_sync(store, plan.run_id, plan.lease)
    except BaseException as exc:
        abandon_sync(store, plan.run_id, plan.lease, f"the sync stopped: {type(exc).__name__}: {exc}")
        raise
    summary.requested, summary.status = finished["requested"], finished["status"]
    summary.failures = finished["failures"]
    return summary
