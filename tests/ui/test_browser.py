"""Trial Watch in a real Airflow UI: log in, open it from the navigation, read a trial's timeline.

Runs ``airflow standalone`` (scheduler, dag-processor, api-server, triggerer) on free loopback ports
with the project's DAGs and plugins, over a store filled by the real sync from the replay registry,
and drives Debian's Chromium through Playwright.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.replay_store import fill_from_replay
from tests.ui.standalone import RunningAirflow, airflow_standalone, launch_chromium, open_trial_watch

pytestmark = pytest.mark.browser

SEED = "NCT02185781"
REPLAY_STUDIES = (
    Path(__file__).resolve().parents[2] / "include" / "trialwatch" / "replay" / "data" / "studies"
)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAirflow]:
    home: Path = tmp_path_factory.mktemp("standalone")
    store_url = f"sqlite:///{home / 'store.db'}"
    fill_from_replay(store_url)
    with airflow_standalone(home / "airflow", store_url) as running:
        yield running


@pytest.fixture(params=["light", "dark"])
def page(airflow: RunningAirflow, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=request.param)
            yield context.new_page()
        finally:
            browser.close()


def _luminance(css_colour: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_colour)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_trial_timeline_reached_from_the_airflow_navigation(airflow: RunningAirflow, page) -> None:  # type: ignore[no-untyped-def]
    trial_watch = open_trial_watch(page, airflow)
    # Light or dark like Airflow around it.
    background = trial_watch.locator("body").evaluate("body => getComputedStyle(body).backgroundColor")
    dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert (_luminance(background) < 0.3) == dark, background
    # One status lane per trial on the overview.
    lanes = trial_watch.locator('svg[role="img"][aria-labelledby="lanes-title lanes-desc"]')
    lanes.wait_for()
    assert SEED in (lanes.locator("desc").text_content() or "")

    trial_watch.get_by_role("link", name=SEED).first.click()
    timeline = trial_watch.locator("ol.timeline")
    timeline.wait_for()
    # The stylesheet needs the login too; the browser's session cookie must get it, not a redirect.
    rules = timeline.evaluate("() => [...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0)")
    assert rules > 0, "the Trial Watch stylesheet did not load for the logged-in user"
    status_changes = timeline.locator("tr", has_text="Overall status")
    texts = [" ".join(text.split()) for text in status_changes.all_inner_texts()]
    # Newest first: day 2 brought Recruiting → Active, not recruiting → Completed.
    assert texts, "no overall status change in the timeline"
    assert "Active, not recruiting → Completed" in texts[0], texts
    assert any("Recruiting → Active, not recruiting" in text for text in texts), texts
    body = trial_watch.locator("main").inner_text()
    assert "ACTIVE_NOT_RECRUITING" not in body
    for chart in ("enrollment", "dates"):
        svg = trial_watch.locator(f'svg[role="img"][aria-labelledby="{chart}-title {chart}-desc"]')
        assert svg.is_visible(), chart
        assert SEED in (svg.locator("title").first.text_content() or "")
    assert trial_watch.get_by_role("link", name="Registry record ↗").get_attribute("href") == (
        f"https://clinicaltrials.gov/study/{SEED}"
    )


def test_aggregated_event_opens_to_its_members(airflow: RunningAirflow, page) -> None:  # type: ignore[no-untyped-def]
    # Registry version 1 of the seed trial lists its first six sites, all new: one "6 sites added" row.
    first_sites = json.loads((REPLAY_STUDIES / SEED / "v1.json").read_text(encoding="utf-8"))
    facilities = [
        site["facility"] for site in first_sites["protocolSection"]["contactsLocationsModule"]["locations"]
    ]
    assert len(facilities) == 6
    trial_watch = open_trial_watch(page, airflow)
    trial_watch.get_by_role("link", name=SEED).first.click()
    row = trial_watch.locator("ol.timeline tr.aggregated", has_text="6 sites added")
    row.wait_for()
    assert row.count() == 1
    members = row.locator("details.members li")
    assert members.count() == 6
    assert not members.first.is_visible()  # closed until asked
    row.locator("summary").click()
    shown = [" ".join(text.split()) for text in members.all_inner_texts()]
    assert all(members.nth(i).is_visible() for i in range(6))
    for facility in facilities:
        assert any(text.startswith(facility) for text in shown), (facility, shown)


@pytest.mark.parametrize(
    ("query", "code", "heading"),
    [
        ("?page=999", 404, "Not found"),
        ("?watchlist=nope", 404, "Not found"),
        ("?page=abc", 422, "Bad request"),
        ("?sort=nonsense", 422, "Bad request"),
        ("?per_page=99999", 422, "Bad request"),
        ("trials/NCT99999999", 404, "Not found"),
        ("digests/notanumber", 422, "Bad request"),
    ],
)
def test_bad_parameters_get_styled_pages(airflow: RunningAirflow, page, query, code, heading) -> None:  # type: ignore[no-untyped-def]
    open_trial_watch(page, airflow)  # logs in
    response = page.goto(f"{airflow.base_url}/trialwatch/{query}")
    assert response is not None and response.status == code
    assert page.get_by_role("heading", name=heading).is_visible()
    assert page.locator("header.bar").is_visible()  # Trial Watch's own page, not raw JSON


def test_plugin_api_needs_a_login_on_the_real_server(airflow: RunningAirflow) -> None:
    import requests

    anonymous = requests.get(f"{airflow.base_url}/trialwatch/api/overview", timeout=30)
    assert anonymous.status_code == 401
    page = requests.get(f"{airflow.base_url}/trialwatch/", timeout=30, allow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/api/v2/auth/login?next=%2Ftrialwatch%2F")
    token = requests.post(
        f"{airflow.base_url}/auth/token",
        json={"username": airflow.username, "password": airflow.password},
        timeout=30,
    ).json()["access_token"]
    authorised = requests.get(
        f"{airflow.base_url}/trialwatch/api/trials/{SEED}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert authorised.status_code == 200
    assert authorised.json()["overall_status"] == "COMPLETED"
    cookie = requests.get(
        f"{airflow.base_url}/trialwatch/api/overview", cookies={"_token": token}, timeout=30
    )
    assert cookie.status_code == 200
    assert cookie.json()["total"] > 0
    for asset in ("static/style.css", "openapi.json"):
        url = f"{airflow.base_url}/trialwatch/{asset}"
        assert requests.get(url, timeout=30, allow_redirects=False).status_code == 303, asset
        assert requests.get(url, cookies={"_token": token}, timeout=30).status_code == 200, asset
    plugins = requests.get(
        f"{airflow.base_url}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()["plugins"]
    ours = next(plugin for plugin in plugins if plugin["name"] == "trialwatch")
    assert ours["external_views"][0]["url_route"] == "trialwatch"
    assert ours["fastapi_apps"][0]["url_prefix"] == "/trialwatch"
    assert ours["global_operator_extra_links"]
