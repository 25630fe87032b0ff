"""Findings in Trial Watch: the overview's column and filter, the trial page's list, over a store
filled by real syncs of real records (see tests/findings/replay_days.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from trialwatch.pipeline import run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayRegistry, ReplayServer
from trialwatch.store import Store
from trialwatch.watchlists import Watchlist

from tests.findings.replay_days import write_timeline


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Days 1-3: NCT03418623's results_overdue open; NCT04327037's two findings opened and resolved."""
    base = tmp_path_factory.mktemp("findings-ui")
    store = Store(f"sqlite:///{base / 'store.db'}")
    store.upgrade()
    watchlist = Watchlist(
        name="office", path=base / "office.yaml", title="Office", nct_ids=("NCT03418623", "NCT04327037")
    )
    with ReplayServer(ReplayRegistry(write_timeline(base / "replay")), day=1) as server:
        client = CtgovClient(server.base_url, min_interval=0, max_retries=1, backoff_base=0)
        for day in (1, 2, 3):
            server.set_day(day)
            run_sync(store, client, [watchlist])
    yield store
    store.dispose()


@pytest.fixture
def client(synced: Store) -> Iterator:  # type: ignore[type-arg]
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from trialwatch_ui.app import URL_PREFIX, create_app, require_user

    app = create_app(synced)
    app.dependency_overrides[require_user] = lambda: None
    parent = FastAPI()
    parent.mount(URL_PREFIX, app)
    with TestClient(parent, base_url="http://testserver/trialwatch/") as test_client:
        yield test_client


def test_the_overview_counts_open_findings_per_trial(client) -> None:  # type: ignore[no-untyped-def]
    items = client.get("/api/overview").json()["items"]
    assert {row["nct_id"]: row["open_findings"] for row in items} == {
        "NCT03418623": {"results_overdue": 1},
        "NCT04327037": {},  # both of its findings resolved on day 3
    }
    page = client.get("/").text
    assert "Open findings" in page and "results overdue" in page


@pytest.mark.parametrize(
    ("finding", "expected"),
    [("any", ["NCT03418623"]), ("results_overdue", ["NCT03418623"]), ("verification_stale", [])],
)
def test_the_finding_filter_keeps_trials_with_such_an_open_finding(client, finding, expected) -> None:  # type: ignore[no-untyped-def]
    items = client.get("/api/overview", params={"finding": finding}).json()["items"]
    assert [row["nct_id"] for row in items] == expected


def test_an_empty_filter_says_why(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/", params={"finding": "verification_stale"})
    assert page.status_code == 200
    assert "No watched trial has an open finding of the kind verification stale" in page.text


def test_an_unknown_finding_code_is_the_styled_422(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/", params={"finding": "results_overdeu"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Bad request" in response.text and "finding" in response.text
    api = client.get("/api/overview", params={"finding": "x' OR 1=1"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "finding"]


def test_the_trial_page_lists_open_and_resolved_findings(client) -> None:  # type: ignore[no-untyped-def]
    data = client.get("/api/trials/NCT04327037").json()
    assert sorted((f["code"], f["open"]) for f in data["findings"]) == [
        ("status_past_completion", False),
        ("verification_stale", False),
    ]
    assert all(f["resolved_at"] for f in data["findings"])
    page = client.get("/trials/NCT04327037").text
    assert 'id="findings"' in page and "resolved" in page
    overdue = client.get("/trials/NCT03418623").text
    assert "Results overdue" in overdue and "due by 2021-03-13" in overdue
