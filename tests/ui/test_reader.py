"""What a trial office reads: words for codes, the registry's dates, clear empty and error states,
charts, and a feed URL a feed reader can use without an Airflow login."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tests.ui.conftest import SEED

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def watchlists(tmp_path, monkeypatch):
    (tmp_path / "nk-cells.yaml").write_text(
        f"title: NK cells\ntrials:\n  - {SEED}\nrecipients:\n  - office@example.org\n"
    )
    monkeypatch.setenv("TRIALWATCH_WATCHLISTS", str(tmp_path))


class TestWords:
    def test_overview_and_search_show_statuses_in_words(self, client):
        overview = client.get("/", params={"watchlist": "nk-cells"}).text
        assert ">Completed<" in overview
        search = client.get("/search", params={"q": "NCT0000000"}).text
        assert "Recruiting" in search and "RECRUITING" not in search

    def test_trial_page_has_no_registry_codes(self, client):
        page = client.get(f"/trials/{SEED}").text
        assert "Phase 2" in page and "PHASE2" not in page
        for code in ("ACTIVE_NOT_RECRUITING", "RECRUITING", "COMPLETED", "ACTUAL", "ESTIMATED"):
            assert not re.search(rf"(?<![\w-]){code}(?![\w-])", page), code
        assert "Active, not recruiting" in page

    def test_severity_colours_are_the_emails(self, client):
        from trialwatch.vocabulary import SEVERITY_COLORS

        css = client.get("/severity.css")
        assert css.headers["content-type"].startswith("text/css")
        assert "--minor: #175cd3;" in css.text and SEVERITY_COLORS["minor"] == "#175cd3"
        assert ".sev-critical { background: var(--critical); }" in css.text
        static = client.get("/static/style.css").text
        assert "#8a6d00" not in static  # the old olive "minor" is gone


class TestDates:
    def test_last_change_is_the_registry_posting_date_then_our_detection(self, client):
        row = next(
            r
            for r in client.get("/api/overview", params={"watchlist": "nk-cells"}).json()["items"]
            if r["nct_id"] == SEED
        )
        assert row["last_posted"] == "2024-03-15"  # version 3's registry_version_date in the fixture
        page = client.get("/", params={"watchlist": "nk-cells"}).text
        cell = re.search(
            r'<time datetime="2024-03-15"[^>]*>2024-03-15</time>\s*<div class="muted small">detected', page
        )
        assert cell, "registry date first, then our detection time"

    def test_trial_timeline_says_posted_by_the_registry_and_detected_by_us(self, client):
        page = client.get(f"/trials/{SEED}").text
        assert 'posted by the registry <time datetime="2024-02-15">2024-02-15</time>' in page
        assert "detected by our sync" in page

    def test_posting_date_falls_back_to_the_record(self, tmp_path):
        from datetime import UTC, datetime

        from trialwatch.store import Store
        from trialwatch.store import read_models as rm
        from trialwatch.store.models import Study, StudyVersion

        store = Store(f"sqlite:///{tmp_path / 'store.db'}")
        store.upgrade()
        record = {"protocolSection": {"statusModule": {"lastUpdatePostDateStruct": {"date": "2025-06-02"}}}}
        now = datetime(2026, 1, 1, tzinfo=UTC)
        with store.session() as session:
            session.add(Study(nct_id="NCT11111111", title="t", first_seen_at=now))
            session.flush()
            version = StudyVersion(
                nct_id="NCT11111111", content_hash="0" * 64, fetched_at=now, raw_json=record
            )
            session.add(version)
            session.flush()
            session.get(Study, "NCT11111111").current_version_id = version.id
        with store.session() as session:
            detail = rm.trial(session, "NCT11111111")
        store.dispose()
        assert detail.study.last_posted == "2025-06-02"
        assert detail.timeline[0].posted == "2025-06-02"


class TestEmptyAndErrorStates:
    def test_page_past_the_last_says_so(self, client):
        response = client.get("/", params={"watchlist": "hematology", "page": 999})
        assert response.status_code == 404
        assert "Page 999 is past the last page (2)" in response.text
        assert "No watched trials yet" not in response.text
        assert 'class="bar"' in response.text  # the styled page, not a bare message

    def test_unknown_watchlist_is_a_styled_404_without_a_feed(self, client):
        response = client.get("/", params={"watchlist": "nope"})
        assert response.status_code == 404
        assert "nope" in response.text and "feed" not in response.text.lower()
        assert 'class="bar"' in response.text

    @pytest.mark.parametrize(
        ("path", "params", "name"),
        [
            ("/", {"page": "abc"}, "page"),
            ("/", {"sort": "nonsense"}, "sort"),
            ("/", {"per_page": "100000"}, "per_page"),
            ("/digests", {"page": "0"}, "page"),
            ("/digests/notanumber", {}, "digest_id"),
            ("/health", {"page": "-1"}, "page"),
        ],
    )
    def test_bad_values_get_the_styled_422_page(self, client, path, params, name):
        response = client.get(path, params=params)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")
        assert "Bad request" in response.text and name in response.text

    def test_the_api_keeps_json_422(self, client):
        response = client.get("/api/overview", params={"page": "abc"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "page"]


class TestCharts:
    def test_trial_page_has_enrollment_and_dates_charts(self, client):
        page = client.get(f"/trials/{SEED}").text
        charts = re.findall(r'<svg class="chart" role="img"[^>]*>', page)
        assert len(charts) == 2
        assert f'<title id="enrollment-title">Enrollment of {SEED} across versions</title>' in page
        assert "v1 2024-01-15: 40 (actual); v2 2024-02-15: 40 (actual); v3 2024-03-15: 42 (actual)" in page
        assert f'<title id="dates-title">Dates of {SEED} across versions</title>' in page
        assert "Primary completion: 2024-03-01 (actual), unchanged." in page

    def test_overview_has_one_status_lane_per_trial_with_versions(self, client):
        page = client.get("/", params={"watchlist": "nk-cells"}).text
        assert '<title id="lanes-title">Status of each trial over time</title>' in page
        assert (
            f"{SEED}: Recruiting from 2024-01-15, Active, not recruiting from 2024-02-15, "
            "Completed from 2024-03-15" in page
        )

    def test_a_slipped_date_is_drawn_and_told(self):
        from trialwatch.store.read_models import VersionPoint
        from trialwatch_ui.charts import dates_chart

        def point(number: int, primary: str, kind: str) -> VersionPoint:
            return VersionPoint(
                "NCT22222222",
                number,
                f"2024-0{number}-01",
                None,
                "RECRUITING",
                10,
                "ESTIMATED",
                "2023-01",
                "ACTUAL",
                primary,
                kind,
                None,
                None,
            )

        svg = str(
            dates_chart([point(1, "2024-03", "ESTIMATED"), point(2, "2024-09", "ESTIMATED")], "NCT22222222")
        )
        assert "Primary completion: 2024-03 (estimated) → 2024-09 (estimated)." in svg
        assert "Start: 2023-01 (actual), unchanged." in svg
        assert len(re.findall(r'<line class="slip"', svg)) == 1


class TestCapabilityFeed:
    def _feed_url(self, client) -> str:
        page = client.get("/", params={"watchlist": "nk-cells"}).text
        match = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', page)
        assert match, "no feed URL on the watchlist page"
        return match.group(1).replace("&amp;", "&")

    def test_token_url_serves_the_feed_without_login_and_rotates(self, client, anonymous, watchlists):
        made = client.post(
            "/watchlists/nk-cells/feed-token", headers={"origin": "http://testserver"}, follow_redirects=False
        )
        assert made.status_code == 303
        first = self._feed_url(client)
        token = first.split("token=", 1)[1]
        assert len(token) >= 40
        answer = anonymous.get("/feed.atom", params={"token": token})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/atom+xml")
        entries = ET.fromstring(answer.content).findall(f"{ATOM}entry")
        assert entries and all(SEED in ET.tostring(entry, encoding="unicode") for entry in entries)
        titles = [entry.findtext(f"{ATOM}title") or "" for entry in entries]
        # Version 3's status change in the fixture, in words as in the email.
        assert any("Active, not recruiting → Completed" in title for title in titles), titles

        client.post("/watchlists/nk-cells/feed-token", headers={"origin": "http://testserver"})
        second = self._feed_url(client)
        assert second != first
        assert anonymous.get("/feed.atom", params={"token": token}).status_code == 401

    @pytest.mark.parametrize("params", [{}, {"token": ""}, {"token": "not-the-token"}, {"token": "x" * 500}])
    def test_wrong_or_missing_token_is_401_not_a_login_page(self, anonymous, params):
        response = anonymous.get("/feed.atom", params=params, follow_redirects=False)
        assert response.status_code == 401
        assert "token" in response.json()["detail"]

    def test_same_host_behind_a_tls_proxy_may_rotate(self, client):
        response = client.post(
            "/watchlists/nk-cells/feed-token",
            headers={"origin": "https://testserver"},
            follow_redirects=False,
        )
        assert response.status_code == 303

    def test_cross_site_post_cannot_rotate(self, client):
        response = client.post(
            "/watchlists/nk-cells/feed-token",
            headers={"origin": "https://evil.example"},
            follow_redirects=False,
        )
        assert response.status_code == 400

    def test_rotating_needs_a_login(self, anonymous):
        response = anonymous.post("/watchlists/nk-cells/feed-token", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/api/v2/auth/login")
