"""Cursor pages of the overview, a paged trial timeline and capped search counts, on the known rows."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from itertools import pairwise

import pytest

from tests.ui.conftest import SEED, WATCHLIST_SIZE

RANK = {"critical": 4, "major": 3, "minor": 2, "info": 1, None: 0}
# Each sort's keys as the API returns them (the documented order: NULLs last, then trial, watchlist).
SORT_FIELDS = {
    "last_change": ("last_posted", "last_changed_at"),
    "detected": ("last_changed_at",),
    "nct_id": (),
    "title": ("title",),
    "status": ("overall_status",),
    "enrollment": ("enrollment_count",),
}
MEMBERSHIPS = WATCHLIST_SIZE + 2  # 60 in hematology, the seed in two watchlists (one trial left nk-cells)


def _value(row: dict, field: str):  # type: ignore[no-untyped-def]
    value = row[field]
    return datetime.fromisoformat(value).timestamp() if field == "last_changed_at" and value else value


def _in_order(first: dict, second: dict, sort: str, descending: bool) -> bool:
    """Whether ``first`` may come before ``second``: keys compared with NULLs last either way."""
    fields = SORT_FIELDS.get(sort, ())
    if sort == "severity":
        a, b = RANK[first["last_change_severity"]], RANK[second["last_change_severity"]]
        if a != b:
            return a > b if descending else a < b
        fields = ("last_changed_at",)
    keys = [(_value(first, f), _value(second, f)) for f in fields]
    if sort == "watchlist":
        keys = [(first["watchlist"], second["watchlist"])]
    keys += [(first["nct_id"], second["nct_id"]), (first["watchlist"], second["watchlist"])]
    for a, b in keys:
        if a == b:
            continue
        if a is None or b is None:
            return b is None
        return a > b if descending else a < b
    return False  # the same membership twice


def _walk(client, params: dict, *, backwards: bool = False) -> list[dict]:  # type: ignore[no-untyped-def]
    rows: list[dict] = []
    cursor = {"before": "last"} if backwards else {}
    for _ in range(MEMBERSHIPS):
        body = client.get("/api/overview", params={**params, **cursor}).json()
        rows = body["items"] + rows if backwards else rows + body["items"]
        following = body["prev_cursor"] if backwards else body["next_cursor"]
        if following is None:
            return rows
        cursor = {"before": following} if backwards else {"after": following}
    raise AssertionError("the cursors never reached the end of the list")


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("last_change", "desc"),
        ("last_change", "asc"),
        ("detected", "asc"),
        ("severity", "desc"),
        ("severity", "asc"),
        ("enrollment", "desc"),
        ("status", "asc"),
        ("title", "desc"),
        ("nct_id", "desc"),
        ("watchlist", "asc"),
    ],
)
def test_cursor_walks_visit_every_membership_once_in_order(client, sort, order):
    params = {"sort": sort, "order": order, "per_page": 7}
    forward = _walk(client, params)
    keys = [(row["watchlist"], row["nct_id"]) for row in forward]
    assert len(keys) == len(set(keys)) == MEMBERSHIPS
    for first, second in pairwise(forward):
        assert _in_order(first, second, sort, order == "desc"), (first["nct_id"], second["nct_id"])
    backward = _walk(client, params, backwards=True)
    assert [(row["watchlist"], row["nct_id"]) for row in backward] == keys


def test_page_numbers_and_cursors_agree(client):
    params = {"watchlist": "hematology", "per_page": 10}
    by_number = [
        row["nct_id"]
        for page in range(1, 8)
        for row in client.get("/api/overview", params={**params, "page": page}).json()["items"]
    ]
    assert by_number == [row["nct_id"] for row in _walk(client, params)]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("last_change", "desc"),
        ("detected", "asc"),
        ("severity", "desc"),
        ("severity", "asc"),
        ("title", "asc"),
    ],
)
@pytest.mark.parametrize("per_page", [1, 2, 3, 7])
def test_page_numbers_over_all_watchlists_match_the_cursor_walk(client, sort, order, per_page):
    """Pages by number over both watchlists, where the seed's two rows may fall on two pages."""
    params = {"sort": sort, "order": order, "per_page": per_page}
    walked = [(row["watchlist"], row["nct_id"]) for row in _walk(client, params)]
    by_number = []
    for page in range(1, -(-MEMBERSHIPS // per_page) + 1):
        body = client.get("/api/overview", params={**params, "page": page}).json()
        assert body["total"] == MEMBERSHIPS
        by_number += [(row["watchlist"], row["nct_id"]) for row in body["items"]]
    assert by_number == walked
    assert len(set(by_number)) == MEMBERSHIPS


def test_never_changed_trial_is_last_of_the_last_page(client):
    body = client.get(
        "/api/overview", params={"watchlist": "hematology", "before": "last", "per_page": 10}
    ).json()
    assert body["items"][-1]["nct_id"] == f"NCT{WATCHLIST_SIZE:08d}"
    assert body["next_cursor"] is None and body["prev_cursor"]


def test_html_next_link_carries_the_cursor_and_opens_page_two(client):
    page = client.get("/", params={"watchlist": "hematology", "per_page": 10}).text
    link = unescape(re.search(r'<a href="([^"]+)" rel="next">', page).group(1))
    assert "after=" in link and "page=2" in link
    second = client.get(link.removeprefix("/trialwatch/")).text
    assert "Page 2 of 7" in second and 'rel="prev"' in second
    expected = client.get(
        "/api/overview", params={"watchlist": "hematology", "per_page": 10, "page": 2}
    ).json()
    for row in expected["items"]:
        assert f">{row['nct_id']}</a>" in second


@pytest.mark.parametrize("cursor", ["garbage", "e30"])
def test_a_bad_cursor_is_a_422(client, cursor):
    assert client.get("/api/overview", params={"after": cursor}).status_code == 422


def test_a_cursor_of_another_sort_is_a_422(client):
    cursor = client.get("/api/overview", params={"per_page": 5}).json()["next_cursor"]
    response = client.get("/api/overview", params={"per_page": 5, "after": cursor, "sort": "title"})
    assert response.status_code == 422
    assert "another sort" in response.json()["detail"]


def test_trial_timeline_pages_versions_and_caps_events(client, monkeypatch):
    from trialwatch.store import read_models

    monkeypatch.setattr(read_models, "TIMELINE_PER_PAGE", 2)
    monkeypatch.setattr(read_models, "EVENTS_PER_VERSION", 1)
    first = client.get(f"/api/trials/{SEED}").json()
    # The fixture's seed: versions 3, 2, 1; version 3 holds two events (critical, minor), version 2 one.
    assert [v["registry_version"] for v in first["timeline"]] == [3, 2]
    assert (first["page"], first["pages"], first["version_count"], first["event_count"]) == (1, 2, 3, 3)
    newest = first["timeline"][0]
    assert [e["severity"] for e in newest["events"]] == ["critical"] and newest["event_total"] == 2
    second = client.get(f"/api/trials/{SEED}", params={"page": 2}).json()
    assert [v["registry_version"] for v in second["timeline"]] == [1]
    html = client.get(f"/trials/{SEED}").text
    assert "The 1 most severe of 2 change events in this version" in html
    link = unescape(re.search(r'<a href="([^"]+)">all of them</a>', html).group(1))
    version_page = client.get(link.removeprefix("/trialwatch/"))
    assert version_page.status_code == 200 and "2 in all" in version_page.text
    version = client.get(f"/api/trials/{SEED}", params={"version": newest["version_id"]}).json()
    assert [e["severity"] for e in version["timeline"][0]["events"]] == ["critical", "minor"]
    assert client.get(f"/trials/{SEED}", params={"page": 3}).status_code == 404
    assert client.get(f"/trials/{SEED}", params={"version": 999999}).status_code == 404


def test_search_count_stops_at_the_cap(client, monkeypatch):
    from trialwatch.store import read_models

    monkeypatch.setattr(read_models, "SEARCH_COUNT_CAP", 5)
    body = client.get("/api/search", params={"q": "trial number", "per_page": 2}).json()
    # 59 titles read "Trial number NN" (one is the hostile title): more than the cap of 5.
    assert body["total_capped"] is True and body["total"] == 5
    assert len(body["items"]) == 2
    page = client.get("/search", params={"q": "trial number", "per_page": 2}).text
    assert "more than 5 rows" in page


def test_search_puts_the_exact_id_first_and_counts_small_results(client):
    body = client.get("/api/search", params={"q": SEED.lower()}).json()
    assert [row["nct_id"] for row in body["items"]] == [SEED]
    assert (body["total"], body["total_capped"]) == (1, False)
    prefix = client.get("/api/search", params={"q": "NCT0000001"}).json()
    # NCT00000010 … NCT00000019 in the fixture.
    assert sorted(row["nct_id"] for row in prefix["items"]) == [f"NCT000000{i}" for i in range(10, 20)]


# Trials on one to three watchlists, some leaving a query and one coming back; posting dates and
# change times with NULLs and ties, so a skip crosses groups of equal leading keys.
_POSTED = {
    1: "2024-03-01",
    2: "2024-03-01",
    3: None,
    4: "2024-02-01",
    5: "2024-03-01",
    6: None,
    7: "2024-02-01",
}
_LISTS = {
    "a": {1: "query", 2: "query", 3: "id", 4: "query", 5: "query", 6: "query", 7: "id"},
    "b": {1: "query", 3: "query", 5: "query", 6: "id"},
    "c": {1: "query", 2: "query", 5: "query"},
}
_LEFT = {"a": {2, 4}, "c": {1}}  # gone from these queries on the second day


def _store_rows(store) -> int:  # type: ignore[no-untyped-def]
    from trialwatch.store.models import Study
    from trialwatch.store.repository import update_memberships

    day = datetime(2024, 5, 1)
    with store.session() as session:
        for name, members in _LISTS.items():
            update_memberships(session, name, {f"NCT{n:08d}": via for n, via in members.items()}, now=day)
        for n, posted in _POSTED.items():
            changed = None if n in (2, 6) else datetime(2024, 4, n)
            session.add(
                Study(
                    nct_id=f"NCT{n:08d}",
                    title=f"t{n % 3}",
                    first_seen_at=day,
                    last_posted=posted,
                    last_changed_at=changed,
                    last_change_severity=("major" if n % 2 else None),
                )
            )
        for name, left in _LEFT.items():
            kept = {f"NCT{n:08d}": via for n, via in _LISTS[name].items() if n not in left}
            update_memberships(session, name, kept, now=day)
        # The second day's "c" query finds trial 1 again.
        update_memberships(session, "c", {f"NCT{n:08d}": via for n, via in _LISTS["c"].items()}, now=day)
        session.commit()
    return sum(len(members) for members in _LISTS.values()) - len(_LEFT["a"])


def _numbers_match_cursors(store) -> None:  # type: ignore[no-untyped-def]
    from trialwatch.store import read_models as rm

    total = _store_rows(store)
    for sort, descending in [
        ("last_change", True),
        ("last_change", False),
        ("severity", True),
        ("title", False),
    ]:
        for per_page in (1, 2, 3, 5):
            with store.session() as session:
                walked, after = [], None
                while True:
                    page = rm.overview(
                        session, rm.PageRequest(1, per_page), sort=sort, descending=descending, after=after
                    )
                    walked += [(row.study.nct_id, row.watchlist) for row in page.items]
                    if page.next_cursor is None:
                        break
                    after = page.next_cursor
                by_number = []
                for number in range(1, -(-total // per_page) + 1):
                    page = rm.overview(
                        session, rm.PageRequest(number, per_page), sort=sort, descending=descending
                    )
                    assert page.total == total
                    by_number += [(row.study.nct_id, row.watchlist) for row in page.items]
            assert by_number == walked, (sort, descending, per_page)
            assert len(set(walked)) == total


def test_page_numbers_count_trials_on_several_watchlists_on_sqlite(store) -> None:  # type: ignore[no-untyped-def]
    _numbers_match_cursors(store)


@pytest.mark.postgres
def test_page_numbers_count_trials_on_several_watchlists_on_postgres(pg_store) -> None:  # type: ignore[no-untyped-def]
    _numbers_match_cursors(pg_store)
