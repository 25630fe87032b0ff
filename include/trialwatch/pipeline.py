"""The sync: which trials to fetch, fetching them in batches, and recording versions and events.

Three steps, so Airflow can map the middle one over batches: ``plan_sync`` → ``sync_batch`` (per
batch) → ``finish_sync``. ``run_sync`` runs all three in-process for the CLI and the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trialwatch import records
from trialwatch.diff import (
    Thresholds,
    alias_event,
    diff_canonical,
    left_query_event,
    record_gone_event,
)
from trialwatch.registry.client import CtgovClient
from trialwatch.registry.errors import HistoryUnavailable, RegistryError, SearchCutOff
from trialwatch.registry.history import HistoryAdapter
from trialwatch.store import Store
from trialwatch.store import repository as repo
from trialwatch.watchlists import Watchlist

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
MAX_BATCHES = 1000


class OlderVersionServed(Exception):
    """The registry answered with an older version than the one stored (a stale mirror or replay day)."""


@dataclass
class SyncPlan:
    run_id: int
    data_timestamp: str | None
    batches: list[list[str]]
    # nct_id -> diff thresholds, for trials whose watchlists set any (the most sensitive of them).
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)

    def mapped_batches(self) -> list[dict[str, Any]]:
        """One keyword set per batch for Airflow's ``expand_kwargs``; never empty, so the run can close."""
        return [
            {
                "nct_ids": batch,
                "sync_run_id": self.run_id,
                "data_timestamp": self.data_timestamp,
                "thresholds": {
                    nct_id: self.thresholds[nct_id] for nct_id in batch if self.thresholds.get(nct_id)
                },
            }
            for batch in self.batches or [[]]
        ]


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


@dataclass
class _Members:
    """One watchlist resolved: nct_id -> "id" | "query", what went wrong, and whether it is the whole set."""

    via: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    complete: bool = True


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


def plan_sync(
    store: Store,
    client: CtgovClient,
    watchlists: Sequence[Watchlist],
    *,
    only_ids: Sequence[str] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    watchlist_errors: Sequence[object] = (),
) -> SyncPlan:
    """Resolve the watchlists to NCT ids, record memberships, open a sync run and split the work.

    With ``only_ids`` the run fetches just those trials and leaves memberships alone. Broken
    watchlist files (``watchlist_errors``) are recorded with the run, so the digest's health footer
    and the Trial Watch health page show them.
    """
    data_timestamp = client.version().get("dataTimestamp")
    watched_with: dict[str, list[Thresholds]] = {}
    problems: list[str] = [f"watchlist skipped: {error}" for error in watchlist_errors]
    notes: list[str] = []
    wanted: dict[str, None] = {}
    if only_ids:
        wanted = dict.fromkeys(records.extract_nct_ids(" ".join(only_ids)))
    else:
        for watchlist in watchlists:
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
            for nct_id in members.via:
                wanted.setdefault(nct_id, None)
                watched_with.setdefault(nct_id, []).append(own)
    ids = list(wanted)
    thresholds = {
        nct_id: Thresholds.most_sensitive(each).to_mapping()
        for nct_id, each in watched_with.items()
        if any(t != Thresholds() for t in each)
    }
    with store.session() as session:
        run_id = repo.start_sync_run(
            session, data_timestamp=data_timestamp, requested=len(ids), scope="ids" if only_ids else "full"
        )
        if problems or notes:
            failures = [{"nct_id": "", "error": problem} for problem in problems]
            repo.add_to_sync_run(session, run_id, failures=failures, notes=notes)
    # Airflow maps at most [core] max_map_length (1024) batches: grow batches rather than fail.
    batch_size = max(batch_size, -(-len(ids) // MAX_BATCHES))
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    log.info(
        "sync run %d: %d trials in %d batches (registry data of %s)",
        run_id,
        len(ids),
        len(batches),
        data_timestamp,
    )
    return SyncPlan(run_id=run_id, data_timestamp=data_timestamp, batches=batches, thresholds=thresholds)


def _version_chain(
    history: HistoryAdapter, nct_id: str, current: dict[str, Any], *, known: bool, after: int | None
) -> list[tuple[dict[str, Any], int, str]]:
    """(study, registry version, version date) for every registry version newer than ``after``.

    A new trial gets its whole history. A known trial stored without a version number can only be
    placed at the newest version. The newest version is the record just fetched; only the versions in
    between are fetched again.
    """
    infos = history.versions(nct_id)
    if known and after is not None and infos and infos[-1].version < after:
        raise OlderVersionServed(
            f"{nct_id}: the registry serves version {infos[-1].version}, older than the stored version {after}"
        )
    if known:
        infos = [info for info in infos if info.version > after] if after is not None else infos[-1:]
    chain = [(history.study_at(nct_id, info.version), info.version, info.date) for info in infos[:-1]]
    if infos:
        chain.append((current, infos[-1].version, infos[-1].date))
    return chain


def record_study(
    store: Store,
    study: dict[str, Any],
    *,
    history: HistoryAdapter | None,
    data_timestamp: str | None,
    thresholds: Thresholds | None = None,
) -> BatchSummary:
    """Store one fetched record: nothing if its content is unchanged, else every new version."""
    summary = BatchSummary(fetched=1)
    nct_id = records.check_study(study)
    # Each version is put in canonical form once: for its hash and, if it changed, for the diff.
    new_canonical = records.canonical_form(study)
    new_hash = records.hash_canonical(new_canonical)
    with store.session() as session:
        _, stored = repo.current_version(session, nct_id)
        if stored is not None and stored.content_hash == new_hash:
            repo.touch_fetched(session, [nct_id])
            summary.unchanged = 1
            return summary

    after = stored.registry_version if stored is not None else None
    chain: list[tuple[dict[str, Any], int | None, str | None]]
    try:
        chain = (
            _version_chain(history, nct_id, study, known=stored is not None, after=after)
            if history is not None
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
    prev_canonical = records.canonical_form(stored.raw_json) if stored is not None else None
    prev_hash = stored.content_hash if stored is not None else None
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
            )
        )
        prev_canonical, prev_hash, prev_version, prev_date = canonical, version_hash, version, version_date

    with store.session() as session:
        summary.events = repo.store_versions(session, nct_id, versions, data_timestamp=data_timestamp)
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


def _short(value: Any, limit: int = 60) -> str:
    text = " ".join(str(value).split()) if value is not None else "(none)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sync_batch(
    store: Store,
    client: CtgovClient,
    nct_ids: Sequence[str],
    *,
    run_id: int,
    data_timestamp: str | None,
    thresholds: dict[str, dict[str, Any]] | None = None,
    use_history: bool = True,
) -> BatchSummary:
    """Fetch one batch and record it. One bad record is reported and does not stop the others."""
    summary = BatchSummary()
    history = HistoryAdapter(client) if use_history else None
    result = client.fetch_studies(list(nct_ids))
    log.info(
        "batch of %d: %d fetched, %d aliases, %d gone, %d errors",
        len(nct_ids),
        len(result.studies),
        len(result.aliases),
        len(result.missing),
        len(result.errors),
    )
    aliased_from = {canonical: requested for requested, canonical in result.aliases.items()}
    for nct_id, study in result.studies.items():
        config = (thresholds or {}).get(nct_id) or (thresholds or {}).get(aliased_from.get(nct_id, ""))
        try:
            summary.merge(
                record_study(
                    store,
                    study,
                    history=history,
                    data_timestamp=data_timestamp,
                    thresholds=Thresholds.from_mapping(config) if config else None,
                )
            )
        except Exception as exc:  # one malformed record must not cost the rest of the batch
            log.exception("%s: could not record the fetched study", nct_id)
            summary.failures.append({"nct_id": nct_id, "error": f"{type(exc).__name__}: {exc}"})
    with store.session() as session:
        for requested, canonical in result.aliases.items():
            if repo.mark_alias(session, requested, canonical):
                repo.add_study_events(session, requested, [alias_event(requested, canonical)])
                summary.events += 1
        for nct_id in result.missing:
            if repo.mark_gone(session, nct_id):
                repo.add_study_events(session, nct_id, [record_gone_event(nct_id)])
                summary.events += 1
                summary.changed.append(nct_id)
    summary.failures += [{"nct_id": nct_id, "error": error} for nct_id, error in result.errors.items()]
    with store.session() as session:
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


def finish_sync(store: Store, run_id: int) -> dict[str, Any]:
    with store.session() as session:
        run = repo.finish_sync_run(session, run_id)
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
) -> SyncSummary:
    """The whole sync in this process (the DAG runs the same three steps as tasks)."""
    plan = plan_sync(
        store, client, watchlists, only_ids=only_ids, batch_size=batch_size, watchlist_errors=watchlist_errors
    )
    summary = SyncSummary(run_id=plan.run_id, data_timestamp=plan.data_timestamp)
    for batch in plan.batches:
        summary.merge(
            sync_batch(
                store,
                client,
                batch,
                run_id=plan.run_id,
                data_timestamp=plan.data_timestamp,
                thresholds=plan.thresholds,
                use_history=use_history,
            )
        )
    finished = finish_sync(store, plan.run_id)
    summary.requested, summary.status = finished["requested"], finished["status"]
    summary.failures = finished["failures"]
    return summary
