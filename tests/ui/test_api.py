"""The Trial Watch JSON API and pages against a store filled with known rows."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from tests.ui.conftest import HOSTILE_TITLE, SEED, WATCHLIST_SIZE


class TestOverview:
    def test_first_page_sorted_by_last_change_newest_first(self, client):
        body = client.get("/api/overview", params={"watchlist": "hematology", "per_page": 10}).json()
        assert body["total"] == WATCHLIST_SIZE + 1
        assert body["pages"] == 7
        assert [row["nct_id"] for row in body["items"][:3]] == [SEED, "NCT00000001", "NCT00000002"]
        first = body["items"][0]
        assert first["overall_status"] == "COMPLETED"
        assert first["enrollment_count"] == 42
        assert first["last_change_severity"] == "critical"
        assert first["watchlist"] == "hematology"

    def test_pages_do_not_overlap_and_never_changed_trial_sorts_last(self, client):
        seen: list[str] = []
        for page in range(1, 8):
            body = client.get(
                "/api/overview", params={"watchlist": "hematology", "per_page": 10, "page": page}
            ).json()
            seen += [row["nct_id"] for row in body["items"]]
        assert len(seen) == len(set(seen)) == WATCHLIST_SIZE + 1
        assert seen[-1] == f"NCT{WATCHLIST_SIZE:08d}"

    def test_ascending_sort_by_enrollment(self, client):
        body = client.get(
            "/api/overview", params={"sort": "enrollment", "order": "asc", "watchlist": "hematology"}
        ).json()
        counts = [row["enrollment_count"] for row in body["items"]]
        assert counts == sorted(counts)
        assert counts[0] == 10

    def test_sort_by_severity_puts_critical_first(self, client):
        items = client.get("/api/overview", params={"sort": "severity", "per_page": 200}).json()["items"]
        ranks = {"critical": 4, "major": 3, "minor": 2, "info": 1, None: 0}
        assert [ranks[i["last_change_severity"]] for i in items] == sorted(
            (ranks[i["last_change_severity"]] for i in items), reverse=True
        )

    def test_all_watchlists_lists_each_membership_and_counts(self, client):
        body = client.get("/api/overview", params={"per_page": 200}).json()
        # The seed is in two watchlists; NCT00000002 left nk-cells' query and is not counted there.
        assert body["total"] == WATCHLIST_SIZE + 2
        assert body["watchlists"] == [
            {"name": "hematology", "trials": WATCHLIST_SIZE + 1},
            {"name": "nk-cells", "trials": 1},
        ]

    @pytest.mark.parametrize(
        "params", [{"page": 0}, {"per_page": 201}, {"sort": "nonsense"}, {"order": "sideways"}]
    )
    def test_bad_parameters_are_rejected_with_their_name(self, client, params):
        response = client.get("/api/overview", params=params)
        assert response.status_code == 422
        assert next(iter(params)) in response.text

    def test_page_links_and_escaped_title(self, client):
        page = client.get("/", params={"watchlist": "hematology", "per_page": 10, "page": 1})
        assert page.status_code == 200
        assert HOSTILE_TITLE not in page.text
        assert str(escape(HOSTILE_TITLE)) in page.text
        assert f'href="/trialwatch/trials/{SEED}"' in page.text
        assert 'rel="next"' in page.text
        assert "Page 1 of 7" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]


class TestTrial:
    def test_timeline_groups_events_by_registry_version_newest_first(self, client):
        trial = client.get(f"/api/trials/{SEED.lower()}").json()
        assert trial["nct_id"] == SEED
        assert [v["registry_version"] for v in trial["timeline"]] == [3, 2, 1]
        assert trial["timeline"][0]["current"] is True
        newest = trial["timeline"][0]["events"]
        assert [(e["field"], e["old"], e["new"], e["severity"]) for e in newest] == [
            ("Overall status", "ACTIVE_NOT_RECRUITING", "COMPLETED", "critical"),
            ("Enrollment", 40, 42, "minor"),
        ]
        assert trial["timeline"][0]["compare_url"].endswith("tab=history&a=2&b=3#version-content-panel")
        assert trial["timeline"][1]["events"][0]["backfill"] is True
        assert trial["timeline"][2]["events"] == []
        assert trial["study_url"] == f"https://clinicaltrials.gov/study/{SEED}"
        assert trial["current"]["lead_sponsor"] == "Fred Hutchinson Cancer Center"
        assert trial["current"]["primary_completion_date"] == "2024-03-01 (actual)"
        assert [w["name"] for w in trial["watchlists"]] == ["hematology", "nk-cells"]

    def test_page_shows_old_to_new_detail_and_links(self, client):
        page = client.get(f"/trials/{SEED}").text
        assert "Registry version 3" in page
        assert re.search(
            r"Active, not recruiting</span>\s*<span class=\"arrow\">→</span>\s*<span class=\"new\">Completed",
            page,
        )
        assert "ACTIVE_NOT_RECRUITING" not in page
        assert "+5% &lt;estimated → actual&gt;" in page
        assert (
            f"https://clinicaltrials.gov/study/{SEED}?tab=history&amp;a=2&amp;b=3#version-content-panel"
            in page
        )
        assert f'href="https://clinicaltrials.gov/study/{SEED}"' in page

    def test_unknown_trial_is_404_in_api_and_page(self, client):
        assert client.get("/api/trials/NCT99999999").status_code == 404
        page = client.get("/trials/NCT99999999")
        assert page.status_code == 404
        assert "trial NCT99999999 is not in the store" in page.text


class TestSearch:
    def test_nct_prefix_and_exact_id_first(self, client):
        body = client.get("/api/search", params={"q": "nct0218"}).json()
        assert [row["nct_id"] for row in body["items"]] == [SEED]

    def test_title_words_case_insensitive_and_paginated(self, client):
        body = client.get("/api/search", params={"q": "TRIAL NUMBER", "per_page": 25, "page": 3}).json()
        assert body["total"] == WATCHLIST_SIZE - 1  # one title is the hostile one
        assert len(body["items"]) == WATCHLIST_SIZE - 1 - 50

    def test_like_wildcards_are_literal(self, client):
        assert client.get("/api/search", params={"q": "%"}).json()["total"] == 0
        assert client.get("/api/search", params={"q": "_"}).json()["total"] == 0

    def test_page_escapes_query_and_results(self, client):
        page = client.get("/search", params={"q": "<script>"}).text
        assert "<script>alert" not in page
        assert "&lt;script&gt;" in page
        assert 'href="/trialwatch/trials/NCT00000007"' in page


class TestDigests:
    def test_list_and_detail(self, client):
        listing = client.get("/api/digests").json()
        assert listing["total"] == 1
        digest_id = listing["items"][0]["id"]
        detail = client.get(f"/api/digests/{digest_id}").json()
        assert detail["headers"]["Subject"] == "3 changes <b>now</b>"
        assert "RECRUITING -> COMPLETED" in detail["text"]
        assert "<h1>Digest</h1>" in detail["html"]

    def test_pages_escape_subject_and_sandbox_the_html_part(self, client):
        digest_id = client.get("/api/digests").json()["items"][0]["id"]
        listing = client.get("/digests").text
        assert 'onerror="alert(2)"' not in listing
        assert "&lt;img src=x" in listing
        page = client.get(f"/digests/{digest_id}").text
        assert "<script>" not in page
        assert (
            f'<iframe class="mail" sandbox title="Digest HTML part" src="/trialwatch/digests/{digest_id}/html">'
            in page
        )
        assert "3 changes &lt;b&gt;now&lt;/b&gt;" in page

    def test_html_part_is_served_with_a_strict_policy(self, client):
        digest_id = client.get("/api/digests").json()["items"][0]["id"]
        response = client.get(f"/digests/{digest_id}/html")
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy
        assert "script-src" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"

    def test_unknown_digest_is_404(self, client):
        assert client.get("/api/digests/999").status_code == 404


class TestHealth:
    def test_runs_newest_first_with_failures_and_notes(self, client):
        body = client.get("/api/health").json()
        assert [run["status"] for run in body["items"]] == ["partial", "ok"]
        latest = body["items"][0]
        assert latest["failures"] == [{"nct_id": "NCT00000009", "error": "HTTP 503 <Service Unavailable>"}]
        assert latest["notes"] == ["version history unavailable: fell back to current diffs"]
        assert latest["duration_seconds"] == 30
        assert body["last_ok"]["data_timestamp"] == "2026-11-19T08:00:00"
        assert body["totals"] == {"trials": WATCHLIST_SIZE + 1, "versions": 3, "events": 3, "digests": 1}

    def test_page_escapes_failure_text(self, client):
        page = client.get("/health").text
        assert "HTTP 503 &lt;Service Unavailable&gt;" in page
        assert "fell back to current diffs" in page


class TestPreview:
    @pytest.fixture
    def watchlists(self, tmp_path, monkeypatch):
        (tmp_path / "nk-cells.yaml").write_text(
            f"title: NK cells\ntrials:\n  - {SEED}\nrecipients:\n  - office@example.org\n"
        )
        (tmp_path / "broken.yaml").write_text("title: [unclosed\n")
        monkeypatch.setenv("TRIALWATCH_WATCHLISTS", str(tmp_path))

    def test_without_watchlist_lists_the_configured_ones(self, client, watchlists):
        body = client.get("/api/preview").json()
        assert body["available"] is True
        assert body["watchlists"] == ["nk-cells"]
        assert body["html"] is None
        assert body["message"] == "Choose a watchlist to preview its next digest."
        assert any("broken.yaml" in problem for problem in body["problems"])

    def test_renders_the_next_digest_without_sending(self, client, watchlists, filled_store):
        body = client.get("/api/preview", params={"watchlist": "nk-cells"}).json()
        assert body["message"] == ""
        assert SEED in body["text"] and SEED in body["html"]
        assert "2 changes in 1 trial" in body["text"]
        assert body["headers"]["To"] == "office@example.org"
        page = client.get("/preview", params={"watchlist": "nk-cells"}).text
        assert 'src="/trialwatch/preview/html?watchlist=nk-cells"' in page
        html_part = client.get("/preview/html", params={"watchlist": "nk-cells"})
        assert "sandbox" in html_part.headers["content-security-policy"]
        assert client.get("/api/digests").json()["total"] == 1  # nothing was queued

    def test_atom_feed_of_a_watchlist(self, client, watchlists, filled_store):
        import xml.etree.ElementTree as ET

        answer = client.get("/api/feeds/nk-cells.atom")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/atom+xml")
        feed = ET.fromstring(answer.content)
        entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
        assert entries and all(SEED in ET.tostring(entry, encoding="unicode") for entry in entries)
        assert client.get("/api/feeds/nope.atom").status_code == 404

    def test_unknown_watchlist_is_explained(self, client, watchlists):
        body = client.get("/api/preview", params={"watchlist": "<nope>"}).json()
        assert body["message"] == "No watchlist named '<nope>' is configured (known: nk-cells)."
        page = client.get("/preview", params={"watchlist": "<nope>"}).text
        assert "&#39;&lt;nope&gt;&#39;" in page


class TestAuthentication:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/overview",
            f"/api/trials/{SEED}",
            "/api/search?q=x",
            "/api/digests",
            "/api/health",
            "/api/preview",
            "/api/feeds/nk-cells.atom",
        ],
    )
    def test_api_without_credentials_is_401(self, anonymous, path):
        response = anonymous.get(path)
        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated"}

    @pytest.mark.parametrize("path", ["/", f"/trials/{SEED}", "/digests", "/digests/1/html", "/health"])
    def test_pages_without_credentials_redirect_to_airflow_login(self, anonymous, path):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/api/v2/auth/login?next=")
        assert "%2Ftrialwatch" in location

    def test_store_rows_never_leak_without_credentials(self, anonymous):
        response = anonymous.get(f"/trials/{SEED}", follow_redirects=False)
        assert SEED not in response.text.replace(response.headers.get("location", ""), "")


def _empty_store_app(url: str):  # type: ignore[no-untyped-def]
    from trialwatch.store import Store
    from trialwatch_ui.app import create_app, require_user

    store = Store(url, readonly=True)
    app = create_app(store)
    app.dependency_overrides[require_user] = lambda: None
    return store, app


class TestStoreWithoutSchema:
    def test_first_request_creates_the_schema_and_pages_say_no_sync_has_run_yet(self, tmp_path):
        from fastapi.testclient import TestClient
        from sqlalchemy import inspect

        store, app = _empty_store_app(f"sqlite:///{tmp_path / 'fresh.db'}")
        try:
            with TestClient(app) as client:
                response = client.get("/api/overview")
                assert response.status_code == 200
                assert response.json()["items"] == [] and response.json()["total"] == 0
                tables = set(inspect(store.engine).get_table_names())
                assert {"alembic_version", "sync_runs", "studies"} <= tables
                for path in ("/", "/health"):
                    page = client.get(path)
                    assert page.status_code == 200, path
                    assert "No sync has run yet" in page.text and "trialwatch_sync" in page.text
                assert client.get(f"/trials/{SEED}").status_code == 404
        finally:
            store.dispose()

    @pytest.mark.postgres
    def test_role_that_may_not_create_tables_keeps_the_message_and_logs_why(self, pg_url, caplog):
        import uuid

        from fastapi.testclient import TestClient
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        role = f"trialwatch_reader_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            # PostgreSQL 15+ grants no CREATE on schema public to other roles: this one can only connect.
            connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        store, app = _empty_store_app(make_url(pg_url).set(username=role, password=None).render_as_string())
        try:
            with TestClient(app) as client, caplog.at_level("WARNING", logger="trialwatch_ui.app"):
                response = client.get("/api/overview")
                assert response.status_code == 503
                assert "No sync has run yet" in response.json()["detail"]
                page = client.get("/")
                assert page.status_code == 200
                assert "No sync has run yet" in page.text and "trialwatch_sync" in page.text
            assert any(
                "cannot create or upgrade the schema" in record.getMessage()
                and "permission denied" in record.getMessage()
                for record in caplog.records
            )
        finally:
            store.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP ROLE "{role}"'))
            admin.dispose()
