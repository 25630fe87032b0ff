"""The history backfill against the replay registry over HTTP: a new trial's current version on the
sync, its older versions from the queue, newest first, within a request budget."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from trialwatch import records
from trialwatch.backfill import BackfillBusy, run_backfill
from trialwatch.pipeline import SyncBusy, run_sync, sync_batch
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayRegistry, ReplayServer
from trialwatch.store import Store
from trialwatch.store import backfill as queue
from trialwatch.store import repository as repo
from trialwatch.store.models import BackfillEntry, ChangeEventRow, Study, StudyVersion, version_order
from trialwatch.store.read_models import trial
from trialwatch.watchlists import Watchlist

SEED = "NCT02185781"  # six registry versions; v0-v3 are public on day 1, v4 and v5 by day 2
OTHER = "NCT04327037"  # four; v0-v2 on day 1
HISTORY = r"^/api/int/"


def _client(replay: ReplayServer) -> CtgovClient:
    return CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)


def _watchlist(tmp_path: Path, name: str, *ids: str, history: int | None = None) -> Watchlist:
    return Watchlist(name=name, path=tmp_path / f"{name}.yaml", title=name, nct_ids=ids, history=history)


def _expected_hashes(registry: ReplayRegistry, day: int, nct_id: str) -> list[tuple[int, str]]:
    """(registry version, content hash) of every version the day serves, repeats of content dropped."""
    chain: list[tuple[int, str]] = []
    for served in registry.versions(day, nct_id):
        content = records.hash_canonical(records.canonical_form(served.body))
        if not chain or chain[-1][1] != content:
            chain.append((served.version, content))
    return chain


def _stored(store: Store, nct_id: str) -> list[tuple[int | None, str]]:
    with store.session() as session:
        rows = session.execute(
            select(StudyVersion.registry_version, StudyVersion.content_hash)
            .where(StudyVersion.nct_id == nct_id)
            .order_by(*version_order())
        )
        return [(number, content) for number, content in rows]


def _current(store: Store, nct_id: str) -> tuple[int | None, str | None]:
    with store.session() as session:
        study = session.get(Study, nct_id)
        assert study is not None
        version = session.get(StudyVersion, study.current_version_id)
        assert version is not None
        return version.registry_version, study.current_hash


def _events(store: Store, nct_id: str) -> list[ChangeEventRow]:
    with store.session() as session:
        return list(session.scalars(select(ChangeEventRow).where(ChangeEventRow.nct_id == nct_id)))


def test_a_new_trial_gets_its_current_version_on_the_sync_and_its_history_from_the_backfill(
    store: Store, replay: ReplayServer, replay_registry: ReplayRegistry, tmp_path: Path
) -> None:
    expected = _expected_hashes(replay_registry, 1, SEED)
    assert len(expected) >= 3  # the case is only interesting with a history
    summary = run_sync(store, _client(replay), [_watchlist(tmp_path, "w", SEED)])
    assert (summary.status, summary.new_trials, summary.versions) == ("ok", 1, 1)
    assert replay.requests_to(HISTORY) == []  # no history request during the sync
    assert [content for _, content in _stored(store, SEED)] == [expected[-1][1]]
    with store.session() as session:
        assert [e.nct_id for e in queue.next_entries(session, 10)] == [SEED]

    done = run_backfill(store, _client(replay), budget=100)
    assert done.trials_done == [SEED] and done.failures == []
    # One version list, then one request per older version.
    assert done.requests == len(replay.requests_to(HISTORY)) == len(replay_registry.versions(1, SEED))
    assert _stored(store, SEED) == expected
    assert _current(store, SEED) == expected[-1]
    events = _events(store, SEED)
    assert events and all(event.backfill for event in events)
    with store.session() as session:
        study = session.get(Study, SEED)
        assert study is not None and study.last_changed_at is None  # history, not news
        assert study.registry_version == expected[-1][0]
        detail = trial(session, SEED)
        assert [v.registry_version for v in detail.timeline] == [n for n, _ in reversed(expected)]
        assert [v.current for v in detail.timeline] == [True] + [False] * (len(expected) - 1)
        assert queue.counts(session) == {"queued": 0, "done": 1}

    # Day 2: the trial is known and numbered, so the sync diffs each new version inline, as news.
    replay.set_day(2)
    day2 = run_sync(store, _client(replay), [_watchlist(tmp_path, "w", SEED)])
    later = _expected_hashes(replay_registry, 2, SEED)
    assert day2.changed == [SEED]
    assert _stored(store, SEED) == later
    news = [e for e in _events(store, SEED) if not e.backfill]
    assert {(e.old_version, e.new_version) for e in news} == {
        (old, new)
        for (old, _), (new, _) in zip(later[len(expected) - 1 :], later[len(expected) :], strict=False)
    }


def test_the_budget_is_kept_and_the_queue_drains_newest_first(
    store: Store, replay: ReplayServer, replay_registry: ReplayRegistry, tmp_path: Path
) -> None:
    run_sync(store, _client(replay), [_watchlist(tmp_path, "w", OTHER, SEED)])
    versions = {nct_id: replay_registry.versions(1, nct_id) for nct_id in (SEED, OTHER)}
    # The most recently changed trial first: the one whose newest version was posted last.
    first, second = sorted(versions, key=lambda nct_id: versions[nct_id][-1].date, reverse=True)
    budget = len(versions[first]) + 1  # the first trial whole, then the second one's version list

    summary = run_backfill(store, _client(replay), budget=budget)
    seen = replay.requests_to(HISTORY)
    assert summary.requests == len(seen) == budget
    newest = versions[first][-1].version
    assert seen == [f"/api/int/studies/{first}?history=true"] + [
        f"/api/int/studies/{first}/history/{number}" for number in range(newest - 1, -1, -1)
    ] + [f"/api/int/studies/{second}?history=true"]
    assert summary.trials_done == [first]

    rest = run_backfill(store, _client(replay), budget=budget)
    newest = versions[second][-1].version
    assert replay.requests_to(HISTORY)[budget:] == [
        f"/api/int/studies/{second}/history/{number}" for number in range(newest - 1, -1, -1)
    ]
    assert rest.requests == newest and rest.trials_done == [second] and rest.queued_after == 0
    assert _stored(store, second) == _expected_hashes(replay_registry, 1, second)
    assert run_backfill(store, _client(replay), budget=budget).requests == 0


def test_history_none_queues_nothing(store: Store, replay: ReplayServer, tmp_path: Path) -> None:
    run_sync(store, _client(replay), [_watchlist(tmp_path, "w", SEED, history=0)])
    with store.session() as session:
        assert session.scalars(select(BackfillEntry)).all() == []
    assert run_backfill(store, _client(replay), budget=50).requests == 0
    assert replay.requests_to(HISTORY) == []
    assert len(_stored(store, SEED)) == 1


def test_recent_two_stops_after_two_older_versions(
    store: Store, replay: ReplayServer, replay_registry: ReplayRegistry, tmp_path: Path
) -> None:
    run_sync(store, _client(replay), [_watchlist(tmp_path, "w", SEED, history=2)])
    summary = run_backfill(store, _client(replay), budget=50)
    newest = replay_registry.versions(1, SEED)[-1].version
    assert replay.requests_to(r"^/api/int/studies/[^?]+/history/") == [
        f"/api/int/studies/{SEED}/history/{newest - 1}",
        f"/api/int/studies/{SEED}/history/{newest - 2}",
    ]
    assert summary.trials_done == [SEED] and summary.requests == 3
    assert [number for number, _ in _stored(store, SEED)] == [newest - 2, newest - 1, newest]


@pytest.mark.parametrize(
    ("asked", "depth"),
    [((0, 2), 2), ((2, None), None), ((0, 0), "none"), ((1, 3), 3)],
)
def test_a_trial_on_several_watchlists_gets_the_most_history_any_asks_for(
    store: Store, replay: ReplayServer, tmp_path: Path, asked: tuple[int | None, int | None], depth: Any
) -> None:
    watchlists = [_watchlist(tmp_path, f"w{i}", SEED, history=h) for i, h in enumerate(asked)]
    run_sync(store, _client(replay), watchlists)
    with store.session() as session:
        entry = queue.entry(session, SEED)
    if depth == "none":
        assert entry is None
    else:
        assert entry is not None and entry.depth == depth


class _HookedClient(CtgovClient):
    """A client that runs ``hook`` once, just before its first request matching ``marker``."""

    def __init__(self, base_url: str, marker: str, hook: Callable[[], None]) -> None:
        super().__init__(base_url, min_interval=0, max_retries=1, backoff_base=0)
        self.marker, self.hook, self.fired = marker, hook, False

    def get_json(self, url: str, params: Any = None) -> Any:  # type: ignore[override]
        if not self.fired and self.marker in url + "?" + urlencode(params or {}):
            self.fired = True
            self.hook()
        return super().get_json(url, params)


def test_a_sync_cannot_start_while_the_backfill_holds_the_lease(
    store: Store, replay: ReplayServer, tmp_path: Path
) -> None:
    watchlists = [_watchlist(tmp_path, "w", SEED)]
    run_sync(store, _client(replay), watchlists)
    refused: list[str] = []

    def sync_now() -> None:
        with pytest.raises(SyncBusy) as caught:
            run_sync(store, _client(replay), watchlists)
        refused.append(str(caught.value))

    run_backfill(store, _HookedClient(replay.base_url, "/history/", sync_now), budget=50)
    assert refused and "history backfill" in refused[0]
    # And the other way round: a backfill finds the lease of a running sync and does nothing.
    with store.session() as session:
        from trialwatch.store import lease

        lease.acquire(session, "a-sync", now=repo.utcnow())
    with pytest.raises(BackfillBusy):
        run_backfill(store, _client(replay), budget=50)


@pytest.mark.parametrize("marker", ["history=true", "/history/1"])
def test_a_sync_racing_the_backfill_never_duplicates_or_misorders_versions(
    store: Store, replay: ReplayServer, replay_registry: ReplayRegistry, tmp_path: Path, marker: str
) -> None:
    """A sync that bypasses the lease stores day 2's new versions in the middle of the backfill:
    before the stored version was numbered (version list), or halfway down its history."""
    run_sync(store, _client(replay), [_watchlist(tmp_path, "w", SEED)])
    stored_day2: list[int] = []

    def sync_day_two() -> None:
        replay.set_day(2)
        with store.session() as session:
            run_id = repo.start_sync_run(session, data_timestamp=None, requested=1)
        summary = sync_batch(store, _client(replay), [SEED], run_id=run_id, data_timestamp=None)
        stored_day2.append(summary.versions)

    run_backfill(store, _HookedClient(replay.base_url, marker, sync_day_two), budget=100)
    expected = _expected_hashes(replay_registry, 2, SEED)
    day1 = _expected_hashes(replay_registry, 1, SEED)
    assert stored_day2 == [len(expected) - len(day1)]
    assert _stored(store, SEED) == expected  # each version once, in registry order
    assert _current(store, SEED) == expected[-1]
    news = [e for e in _events(store, SEED) if not e.backfill]
    assert {e.new_version for e in news} == {number for number, _ in expected[len(day1) :]}
    anchor = day1[-1][0]
    backfilled = [e for e in _events(store, SEED) if e.backfill]
    assert backfilled and all(e.new_version is not None and e.new_version <= anchor for e in backfilled)
