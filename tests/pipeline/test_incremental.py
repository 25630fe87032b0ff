"""Incremental daily syncs and full reconciliations, against the replay registry over HTTP.

The scope is decided by the registry's data build dates (replay days), never by today's date; the
clock is pinned anyway so nothing here can drift with it.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select
from trialwatch import pipeline, settings
from trialwatch.diff import LEFT_QUERY_PATH
from trialwatch.pipeline import DEFAULT_BATCH_SIZE, MAX_BATCHES, _store_batches, run_sync
from trialwatch.registry.client import DEFAULT_BASE_URL, CtgovClient
from trialwatch.replay.server import ReplayRegistry, ReplayServer
from trialwatch.store import Store
from trialwatch.store import repository as repo
from trialwatch.store.models import ChangeEventRow, Study, SyncRun, WatchlistTrial
from trialwatch.store.plans import load_batch
from trialwatch.watchlists import Query, Watchlist, load_watchlists, registry_wide_query

DATA = settings.PACKAGE_DIR / "replay" / "data"
TIMELINE = json.loads((DATA / "timeline.json").read_text(encoding="utf-8"))
DAY_DATE = {day["day"]: day["date"] for day in TIMELINE["days"]}


@pytest.fixture(autouse=True)
def pinned_clock(time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to("2026-10-05T10:00:00Z", tick=True)


@pytest.fixture
def client(replay: ReplayServer) -> CtgovClient:
    return CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)


def _watchlist(tmp_path: Path, name: str = "t", **fields: object) -> Watchlist:
    return Watchlist(name=name, path=tmp_path / f"{name}.yaml", title="test", **fields)  # type: ignore[arg-type]


def _studies_calls(server: ReplayServer, since: int = 0) -> list[dict[str, str]]:
    """The /studies requests (one value per parameter) from the ``since``-th request on."""
    calls = []
    for target in server.requests_to(r"^/api/v2/studies\?")[since:]:
        calls.append({key: values[0] for key, values in parse_qs(urlsplit(target).query).items()})
    return calls


def _fetched_ids(calls: list[dict[str, str]]) -> list[str]:
    """Ids asked for in full (filter.ids batches without ``fields``), as the fetch batches do."""
    return sorted(
        nct_id for call in calls if "fields" not in call for nct_id in call.get("filter.ids", "").split("|")
    )


def _posted_after(day: int, date: str) -> list[str]:
    """Trials whose newest version on ``day`` was posted on or after ``date``, read off the timeline."""
    found = []
    for nct_id, study in TIMELINE["studies"].items():
        visible = [v for v in study["versions"] if v["date"] <= DAY_DATE[day]]
        if visible and visible[-1]["date"] >= date:
            found.append(nct_id)
    return sorted(found)


def test_day_two_fetches_only_the_records_posted_since_the_last_build(
    store: Store, replay: ReplayServer, client: CtgovClient
) -> None:
    watchlists = load_watchlists().watchlists
    day1 = run_sync(store, client, watchlists)
    assert day1.scope == "full"  # the first sync reconciles
    replay.set_day(2)
    before = len(replay.requests_to(r"^/api/v2/studies\?"))
    histories_before = len(replay.requests_to(r"^/api/int/"))
    day2 = run_sync(store, client, watchlists)
    assert day2.scope == "incremental"
    calls = _studies_calls(replay, before)
    # Window: day 1's build date (2026-10-05) less the default overlap of 2 days.
    window = "AREA[LastUpdatePostDate]RANGE[2026-10-03,MAX]"
    listing = [call for call in calls if "fields" in call]
    assert listing and all(call["fields"] == "NCTId" for call in listing)
    assert all(call["filter.advanced"] == window for call in listing)
    expected = _posted_after(2, "2026-10-03")
    assert expected == ["NCT02185781", "NCT04327037"]
    assert _fetched_ids(calls) == expected
    assert day2.requested == len(expected) and sorted(day2.changed) == expected
    # Only the updated records' histories were read.
    histories = replay.requests_to(r"^/api/int/")[histories_before:]
    assert {urlsplit(target).path.split("/")[4] for target in histories} == set(expected)
    assert replay.requests_to(r"^/api/v2/studies/NCT") == []  # nothing fetched one by one


def test_a_query_with_its_own_advanced_filter_is_anded_with_the_window(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    own = "AREA[LastUpdatePostDate]RANGE[2019-01-01,MAX]"
    query = Query(name="recent", params={"query.cond": "leukemia", "filter.advanced": own})
    watchlist = _watchlist(tmp_path, queries=(query,))
    run_sync(store, client, [watchlist])
    replay.set_day(2)
    before = len(replay.requests_to(r"^/api/v2/studies\?"))
    summary = run_sync(store, client, [watchlist])
    listings = [call for call in _studies_calls(replay, before) if "fields" in call]
    [listing] = [call for call in listings if "filter.ids" not in call]  # the rest check members by id
    assert listing["filter.advanced"] == f"({own}) AND AREA[LastUpdatePostDate]RANGE[2026-10-03,MAX]"
    assert listing["query.cond"] == "leukemia"
    assert summary.scope == "incremental" and sorted(summary.changed) == ["NCT02185781", "NCT04327037"]


def test_reconciliation_on_demand_and_after_the_watchlists_changed(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    one = _watchlist(tmp_path, nct_ids=("NCT02185781", "NCT03418623"))
    run_sync(store, client, [one])
    asked = run_sync(store, client, [one], reconcile=True)
    assert (asked.scope, asked.requested) == ("full", 2)
    assert run_sync(store, client, [one]).scope == "incremental"
    more = _watchlist(tmp_path, nct_ids=("NCT02185781", "NCT03418623", "NCT04327037"))
    changed = run_sync(store, client, [more])
    assert (changed.scope, changed.requested) == ("full", 3)
    with store.session() as session:
        run = session.get(SyncRun, changed.run_id)
        assert run is not None and run.scope == "full"
    assert run_sync(store, client, [more]).scope == "incremental"


def test_trials_never_fetched_are_always_in_an_incremental_plan(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path, nct_ids=("NCT02185781", "NCT03418623"))
    replay.inject(r"filter\.ids=NCT03418623&pageSize", times=None)
    first = run_sync(store, client, [watchlist], batch_size=1)
    assert [f["nct_id"] for f in first.failures] == ["NCT03418623"]
    replay.clear_faults()
    # NCT03418623 was last posted in 2020, far outside the window: fetched because never stored.
    second = run_sync(store, client, [watchlist])
    assert (second.scope, second.requested, second.new_trials) == ("incremental", 1, 1)


# --- members that stop matching their query ----------------------------------------------------------


def _status_at(nct_id: str, day: int) -> str:
    """overallStatus of ``nct_id``'s newest version visible on ``day``, read from the replay data."""
    visible = [v for v in TIMELINE["studies"][nct_id]["versions"] if v["date"] <= DAY_DATE[day]]
    data = json.loads((DATA / visible[-1]["file"]).read_text(encoding="utf-8"))
    body = data["studies"][visible[-1]["element"]] if "element" in visible[-1] else data
    return body["protocolSection"]["statusModule"]["overallStatus"]


def test_a_member_that_stops_matching_its_query_is_fetched_the_day_it_changes(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    recruiting = Query(
        name="recruiting leukemia", params={"query.cond": "leukemia", "filter.overallStatus": "RECRUITING"}
    )
    watchlist = _watchlist(tmp_path, queries=(recruiting,))
    completing = ["NCT02185781", "NCT04327037"]
    # Both recruit on day 1 and are COMPLETED in day 2's build: the query no longer finds them.
    assert [_status_at(n, 1) for n in completing] == ["RECRUITING", "RECRUITING"]
    assert [_status_at(n, 2) for n in completing] == ["COMPLETED", "COMPLETED"]
    run_sync(store, client, [watchlist])
    with store.session() as session:
        members = repo.found_by_query(session, watchlist.name)
    assert set(completing) <= set(members)
    replay.set_day(2)
    before = len(replay.requests_to(r"^/api/v2/studies\?"))
    day2 = run_sync(store, client, [watchlist])
    assert day2.scope == "incremental"
    assert sorted(day2.changed) == completing
    calls = _studies_calls(replay, before)
    window = "AREA[LastUpdatePostDate]RANGE[2026-10-03,MAX]"
    [listing] = [c for c in calls if "fields" in c and "filter.ids" not in c]
    assert listing["filter.overallStatus"] == "RECRUITING" and listing["filter.advanced"] == window
    [check] = [c for c in calls if "fields" in c and "filter.ids" in c]
    assert check["fields"] == "NCTId" and check["filter.advanced"] == window
    assert sorted(check["filter.ids"].split("|")) == sorted(members)
    # One listing page, one check by id, one fetch batch.
    assert len(calls) == 1 + math.ceil(len(members) / pipeline.MEMBER_CHECK_BATCH) + 1
    with store.session() as session:
        for nct_id in completing:
            statuses = session.scalars(
                select(ChangeEventRow.new).where(
                    ChangeEventRow.nct_id == nct_id, ChangeEventRow.path.like("%overallStatus")
                )
            ).all()
            assert "COMPLETED" in statuses, nct_id
            assert session.get(Study, nct_id).overall_status == "COMPLETED"  # type: ignore[union-attr]
        # Whether it left the query is the reconciliation's to say: still a member, no event yet.
        assert set(completing) <= set(repo.found_by_query(session, watchlist.name))
        assert _left_events(session) == []
    run_sync(store, client, [watchlist], reconcile=True)
    with store.session() as session:
        assert _left_events(session) == completing
        rows = session.scalars(select(WatchlistTrial).where(WatchlistTrial.nct_id.in_(completing))).all()
        assert all(row.left_at is not None for row in rows)


def _left_events(session: Any) -> list[str]:
    return sorted(
        session.scalars(select(ChangeEventRow.nct_id).where(ChangeEventRow.path == LEFT_QUERY_PATH))
    )


def test_members_are_asked_about_once_per_run_across_watchlists(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    query = Query(name="leukemia", params={"query.cond": "leukemia", "filter.overallStatus": "RECRUITING"})
    twins = [_watchlist(tmp_path, name, queries=(query,)) for name in ("one", "two")]
    run_sync(store, client, twins)
    replay.set_day(2)
    before = len(replay.requests_to(r"^/api/v2/studies\?"))
    summary = run_sync(store, client, twins)
    checks = [c for c in _studies_calls(replay, before) if "fields" in c and "filter.ids" in c]
    assert len(checks) == 1  # the second watchlist reuses the first one's answers
    assert sorted(summary.changed) == ["NCT02185781", "NCT04327037"]


def test_member_checks_stay_within_a_safe_url_length(replay: ReplayServer, client: CtgovClient) -> None:
    replay.set_day(2)
    since = date(2026, 10, 3)
    # Two full batches and one id more; ids the replay registry does not hold are simply not found.
    made_up = [f"NCT9{n:07d}" for n in range(2 * pipeline.MEMBER_CHECK_BATCH + 1 - 2)]
    asked = ["NCT02185781", "NCT03418623", *made_up]
    checked: dict[str, bool] = {}
    found = pipeline._updated_by_id(client, asked, since, checked)
    assert found == ["NCT02185781"]  # posted 2026-10-08 on day 2; NCT03418623 last in 2020
    assert set(checked) == set(asked)
    targets = replay.requests_to(r"^/api/v2/studies\?")
    assert len(targets) == 3
    for target in targets:
        params = dict(parse_qs(urlsplit(target).query))
        url = (
            requests.Request(
                "GET", f"{DEFAULT_BASE_URL}/studies", params={k: v[0] for k, v in params.items()}
            )
            .prepare()
            .url
        )
        assert url is not None and len(url) < 5_000  # well within an 8 KB request line
    # Asked again in the same run: answered from ``checked``, no request.
    assert pipeline._updated_by_id(client, asked[:5], since, checked) == ["NCT02185781"]
    assert len(replay.requests_to(r"^/api/v2/studies\?")) == 3


def test_a_registry_wide_watchlist_lists_with_no_query_and_then_only_the_window(
    store: Store, replay: ReplayServer, client: CtgovClient, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path, queries=(registry_wide_query(),))
    day1 = run_sync(store, client, [watchlist], use_history=False)
    every = [n for n, study in TIMELINE["studies"].items() if study["versions"][0]["date"] <= DAY_DATE[1]]
    assert (day1.scope, day1.fetched) == ("full", len(every))
    [listing] = [c for c in _studies_calls(replay) if "fields" in c]
    assert listing == {"fields": "NCTId", "pageSize": "1000"}  # no query.*, no filter.*
    replay.set_day(2)
    before = len(replay.requests_to(r"^/api/v2/studies\?"))
    day2 = run_sync(store, client, [watchlist], use_history=False)
    calls = _studies_calls(replay, before)
    window = "AREA[LastUpdatePostDate]RANGE[2026-10-03,MAX]"
    # One dated listing and the fetch: no member is checked by id, the listing returns them all.
    assert [c for c in calls if "fields" in c] == [
        {"fields": "NCTId", "pageSize": "1000", "filter.advanced": window}
    ]
    assert day2.scope == "incremental"
    assert _fetched_ids(calls) == sorted(day2.changed) == _posted_after(2, "2026-10-03")


@pytest.fixture
def status_registry(tmp_path: Path) -> Iterator[tuple[ReplayServer, dict[str, list[str]]]]:
    """120 recruiting trials (clones of a real record) on 2026-10-05; in the build of 2026-10-09 every
    20th is COMPLETED and every 20th from the 10th has a new enrollment, both posted 2026-10-07."""
    data = tmp_path / "status-data"
    (data / "bodies").mkdir(parents=True)
    base = _study("NCT03418623")
    studies: dict[str, Any] = {}
    groups: dict[str, list[str]] = {"completed": [], "enrollment": [], "all": []}
    for n in range(120):
        nct_id = f"NCT9{n:07d}"
        body = copy.deepcopy(base)
        body["protocolSection"]["identificationModule"]["nctId"] = nct_id
        status = body["protocolSection"]["statusModule"]
        status["overallStatus"] = "RECRUITING"
        status["lastUpdatePostDateStruct"] = {"date": "2019-01-01", "type": "ACTUAL"}
        (data / "bodies" / f"{nct_id}-0.json").write_text(json.dumps(body), encoding="utf-8")
        versions = [{"version": 0, "date": "2019-01-01", "file": f"bodies/{nct_id}-0.json"}]
        groups["all"].append(nct_id)
        if n % 20 in (0, 10):
            if n % 20 == 0:
                status["overallStatus"] = "COMPLETED"
                groups["completed"].append(nct_id)
            else:
                body["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 999, "type": "ACTUAL"}
                groups["enrollment"].append(nct_id)
            status["lastUpdatePostDateStruct"] = {"date": "2026-10-07", "type": "ACTUAL"}
            (data / "bodies" / f"{nct_id}-1.json").write_text(json.dumps(body), encoding="utf-8")
            versions.append({"version": 1, "date": "2026-10-07", "file": f"bodies/{nct_id}-1.json"})
        studies[nct_id] = {"versions": versions}
    days = ["2026-10-05", "2026-10-09"]
    timeline = {
        "days": [{"day": i + 1, "date": d, "dataTimestamp": f"{d}T09:00:00"} for i, d in enumerate(days)],
        "studies": studies,
    }
    (data / "timeline.json").write_text(json.dumps(timeline), encoding="utf-8")
    with ReplayServer(ReplayRegistry(data), day=1) as server:
        yield server, groups


def test_requests_grow_with_members_over_the_batch_and_the_changed_trials(
    store: Store,
    status_registry: tuple[ReplayServer, dict[str, list[str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, groups = status_registry
    monkeypatch.setattr(pipeline, "MEMBER_CHECK_BATCH", 50)  # several check batches from 120 trials
    watchlist = _watchlist(
        tmp_path, queries=(Query(name="recruiting", params={"filter.overallStatus": "RECRUITING"}),)
    )
    first = _edited_sync(store, server, watchlist)
    assert (first.scope, first.fetched) == ("full", len(groups["all"]))
    server.set_day(2)
    before = len(server.requests_to(r"^/api/v2/studies\?"))
    summary = _edited_sync(store, server, watchlist)
    changed = sorted(groups["completed"] + groups["enrollment"])
    assert summary.scope == "incremental" and sorted(summary.changed) == changed
    calls = _studies_calls(server, before)
    # The listing finds the recruiting ones with a new enrollment; the rest are checked by id.
    unlisted = len(groups["all"]) - len(groups["enrollment"])
    checks = [c for c in calls if "fields" in c and "filter.ids" in c]
    assert len(checks) == math.ceil(unlisted / 50)
    assert len(calls) == 1 + math.ceil(unlisted / 50) + math.ceil(len(changed) / DEFAULT_BATCH_SIZE)
    assert server.requests_to(r"^/api/v2/studies/NCT") == []


# --- a registry of our own: changes the window cannot see --------------------------------------------


def _study(nct_id: str) -> dict[str, Any]:
    return json.loads((DATA / "samples" / f"study_{nct_id}.json").read_text(encoding="utf-8"))


@pytest.fixture
def edited_registry(tmp_path: Path) -> Iterator[ReplayServer]:
    """Four builds (2026-10-05, -09, -13, -20). From day 2 on, NCT03418623 is COMPLETED→TERMINATED with
    its 2020 LastUpdatePostDate unchanged (an edit the window cannot see), and NCT03475563's enrollment
    moves with an update posted 2026-10-04: before day 1's build, so it was posted late."""
    data = tmp_path / "data"
    (data / "bodies").mkdir(parents=True)
    stale = _study("NCT03418623")
    edited = copy.deepcopy(stale)
    edited["protocolSection"]["statusModule"]["overallStatus"] = "TERMINATED"
    late = _study("NCT03475563")
    moved = copy.deepcopy(late)
    moved["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 140, "type": "ESTIMATED"}
    moved["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {
        "date": "2026-10-04",
        "type": "ACTUAL",
    }
    for name, body in {"stale": stale, "edited": edited, "late": late, "moved": moved}.items():
        (data / "bodies" / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")
    days = ["2026-10-05", "2026-10-09", "2026-10-13", "2026-10-20"]
    timeline = {
        "apiVersion": "2.0.5",
        "days": [{"day": i + 1, "date": d, "dataTimestamp": f"{d}T09:00:00"} for i, d in enumerate(days)],
        "studies": {
            nct_id: {
                "versions": [
                    {
                        "version": 0,
                        "date": "2019-01-01",
                        "file": f"bodies/{first}.json",
                        "rebuilds": [{"fromDay": 2, "file": f"bodies/{then}.json"}],
                    }
                ]
            }
            for nct_id, first, then in [("NCT03418623", "stale", "edited"), ("NCT03475563", "late", "moved")]
        },
    }
    (data / "timeline.json").write_text(json.dumps(timeline), encoding="utf-8")
    with ReplayServer(ReplayRegistry(data), day=1) as server:
        yield server


def _edited_sync(store: Store, server: ReplayServer, watchlist: Watchlist, **options: Any):  # type: ignore[no-untyped-def]
    with CtgovClient(server.base_url, min_interval=0, max_retries=1, backoff_base=0) as client:
        return run_sync(store, client, [watchlist], use_history=False, **options)


@pytest.mark.parametrize(("overlap", "caught"), [(0, []), (2, ["NCT03475563"])])
def test_the_overlap_catches_an_update_posted_before_the_last_synced_build(
    store: Store, edited_registry: ReplayServer, tmp_path: Path, overlap: int, caught: list[str]
) -> None:
    watchlist = _watchlist(tmp_path, nct_ids=("NCT03418623", "NCT03475563"))
    assert _edited_sync(store, edited_registry, watchlist).scope == "full"
    edited_registry.set_day(2)
    summary = _edited_sync(store, edited_registry, watchlist, overlap_days=overlap)
    assert summary.scope == "incremental" and summary.changed == caught


def test_the_weekly_reconciliation_catches_an_edit_with_an_old_update_date(
    store: Store, edited_registry: ReplayServer, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path, nct_ids=("NCT03418623", "NCT03475563"))
    _edited_sync(store, edited_registry, watchlist)  # day 1, 2026-10-05: full
    edited_registry.set_day(2)  # 2026-10-09: 4 days on, incremental; the 2020-dated edit is missed
    assert "NCT03418623" not in _edited_sync(store, edited_registry, watchlist).changed
    edited_registry.set_day(3)  # 2026-10-13: 8 days after the last reconciliation
    summary = _edited_sync(store, edited_registry, watchlist)
    assert summary.scope == "full" and summary.changed == ["NCT03418623"]
    with store.session() as session:
        study = session.get(Study, "NCT03418623")
        assert study is not None and study.overall_status == "TERMINATED"
    edited_registry.set_day(4)  # 2026-10-20: 7 days after that one: full again
    assert _edited_sync(store, edited_registry, watchlist).scope == "full"


def test_reconcile_days_zero_makes_every_sync_full(
    store: Store, edited_registry: ReplayServer, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path, nct_ids=("NCT03418623",))
    _edited_sync(store, edited_registry, watchlist)
    edited_registry.set_day(2)
    summary = _edited_sync(store, edited_registry, watchlist, reconcile_days=0)
    assert summary.scope == "full" and summary.changed == ["NCT03418623"]


# --- the plan in the store ---------------------------------------------------------------------------


def test_the_plan_is_stored_in_batches_and_descriptors_carry_no_ids(store: Store) -> None:
    ids = [f"NCT{n:08d}" for n in range(1, 2501)]
    with store.session() as session:
        run_id = repo.start_sync_run(session, data_timestamp=None, requested=len(ids))
    thresholds = {ids[7]: {"enrollment_drop_pct": 10}}
    history = {ids[4]: 2}
    descriptors = _store_batches(store, run_id, ids, thresholds, history, batch_size=1)
    # 2,500 one-trial batches would exceed Airflow's mapping limit: batches grow to 3 trials.
    assert len(descriptors) == -(-len(ids) // 3) <= MAX_BATCHES
    assert all(set(d) == {"run", "batch", "label", "size"} for d in descriptors)
    assert descriptors[0] == {"run": run_id, "batch": 0, "label": f"{ids[0]}…{ids[2]} (3 trials)", "size": 3}
    loaded = []
    with store.session() as session:
        for descriptor in descriptors:
            batch = load_batch(session, run_id, descriptor["batch"])
            assert batch.size == descriptor["size"]
            loaded += batch.nct_ids
        assert load_batch(session, run_id, 2).thresholds == thresholds
        assert load_batch(session, run_id, 1).history_depths == history
        assert load_batch(session, run_id, 0).history_depths == {}
    assert loaded == ids
    # The next run's plan replaces this one.
    with store.session() as session:
        next_run = repo.start_sync_run(session, data_timestamp=None, requested=0)
    assert _store_batches(store, next_run, [], {}, {}, batch_size=100) == [
        {"run": next_run, "batch": 0, "label": "no trials", "size": 0}
    ]
    with store.session() as session, pytest.raises(LookupError):
        load_batch(session, run_id, 0)
