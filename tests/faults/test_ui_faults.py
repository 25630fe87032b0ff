# ruff: noqa: F811
"""Trial Watch under odd requests: every one gets a 404 or 422 (never a 500), and nothing is served anonymously."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.test_watchlist_faults import GOOD, billion_laughs
from tests.ui.conftest import SEED, anonymous, app, client, filled_store, server  # noqa: F401

# The UI suite's fixtures, imported so pytest finds them here (hence F811 on the test arguments):
# `client` is logged in, `anonymous` is not; each test runs on SQLite and on PostgreSQL (`filled_store`).

ODD_WATCHLISTS = ["a/b", "/", "..", "a\x00b", "NK-Cells", "a b", "<script>", "x" * 201, "é"]
PAGED = ["/api/overview", "/", "/api/digests", "/digests", "/api/search", "/search", "/api/health", "/health"]
TOO_BIG = [str(2**63), str(2**64), str(10**30), str(1_000_000_001)]
NOT_POSITIVE = ["0", "-1", str(-(2**64))]
NOT_A_NUMBER = ["abc", "1.5", "1e3", "NaN", ""]


def _assert_rejected(response, name: str, *, api: bool) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, (response.status_code, response.text[:300])
    if api:
        assert [error["loc"][-1] for error in response.json()["detail"]] == [name]
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>Bad request</h1>" in response.text  # the styled error page, not FastAPI JSON
        assert name in response.text


class TestWatchlistFilter:
    @pytest.mark.parametrize("value", ODD_WATCHLISTS)
    @pytest.mark.parametrize("path", ["/api/overview", "/", "/api/digests", "/digests"])
    def test_a_name_no_watchlist_file_can_have_is_422(self, client, path, value):
        response = client.get(path, params={"watchlist": value})
        _assert_rejected(response, "watchlist", api=path.startswith("/api"))

    def test_the_rejected_value_is_never_echoed_unescaped(self, client):
        response = client.get("/", params={"watchlist": "<script>alert(1)</script>"})
        assert response.status_code == 422
        assert "<script>alert(1)" not in response.text

    @pytest.mark.parametrize("value", ["a/b", "..", "NK-Cells", "é"])
    def test_preview_explains_an_unknown_name(self, client, value):
        assert (
            client.get("/api/preview", params={"watchlist": value})
            .json()["message"]
            .startswith(f"No watchlist named {value!r} is configured")
        )
        assert client.get("/preview", params={"watchlist": value}).status_code == 200
        assert client.get("/preview/html", params={"watchlist": value}).status_code == 404

    @pytest.mark.parametrize("path", ["/api/preview", "/preview", "/preview/html"])
    def test_preview_refuses_nul_and_overlong_names(self, client, path):
        for value in ("a\x00b", "x" * 201):
            _assert_rejected(client.get(path, params={"watchlist": value}), "watchlist", api="/api" in path)

    @pytest.mark.parametrize("raw", ["a%2Fb", "%2F..%2F..", "%00", "%FF"])
    def test_feed_of_an_odd_name_is_404(self, client, raw):
        assert client.get(f"/api/feeds/{raw}.atom").status_code == 404

    @pytest.mark.parametrize("raw", ["%FF", "%ED%A0%80", "%C0%AF"])
    def test_undecodable_bytes_in_the_query_are_422(self, client, raw):
        # Starlette replaces bytes that are not UTF-8; the result is no watchlist name.
        response = client.get(f"/api/overview?watchlist={raw}")
        _assert_rejected(response, "watchlist", api=True)


class TestNumbers:
    @pytest.mark.parametrize("value", TOO_BIG + NOT_POSITIVE + NOT_A_NUMBER)
    @pytest.mark.parametrize("path", PAGED)
    def test_page_beyond_the_limit_negative_or_not_a_number_is_422(self, client, path, value):
        _assert_rejected(client.get(path, params={"page": value}), "page", api=path.startswith("/api"))

    @pytest.mark.parametrize("path", ["/api/overview", "/api/digests", "/api/search", "/api/health"])
    def test_the_highest_page_allowed_is_an_empty_page(self, client, path):
        from trialwatch_ui.app import MAX_PAGE

        body = client.get(path, params={"page": MAX_PAGE, "q": "NCT"}).json()
        assert body["page"] == MAX_PAGE
        assert body["items"] == []

    @pytest.mark.parametrize("value", TOO_BIG[:3] + NOT_POSITIVE + NOT_A_NUMBER[:4])
    @pytest.mark.parametrize("template", ["/api/digests/{}", "/digests/{}", "/digests/{}/html"])
    def test_digest_id_beyond_64_bits_negative_or_not_a_number_is_422(self, client, template, value):
        response = client.get(template.format(value))
        _assert_rejected(response, "digest_id", api=template.startswith("/api"))

    @pytest.mark.parametrize("template", ["/api/digests/{}", "/digests/{}", "/digests/{}/html"])
    def test_the_largest_64_bit_id_reaches_the_store_and_is_404(self, client, template):
        response = client.get(template.format(2**63 - 1))
        assert response.status_code == 404
        assert f"digest {2**63 - 1} is not in the outbox" in response.text


class TestText:
    @pytest.mark.parametrize("path", ["/api/trials/{}", "/trials/{}"])
    def test_nul_in_a_trial_id_is_422(self, client, path):
        _assert_rejected(client.get(path.format("NCT%00")), "nct_id", api=path.startswith("/api"))

    @pytest.mark.parametrize("raw", ["%FF", "a%2F", "%25", "x" * 200])
    def test_odd_trial_ids_are_404(self, client, raw):
        assert client.get(f"/api/trials/{raw}").status_code == 404
        assert client.get(f"/trials/{raw}").status_code == 404

    @pytest.mark.parametrize("path", ["/api/search", "/search"])
    def test_nul_or_overlong_search_is_422(self, client, path):
        for value in ("NCT\x00", "x" * 201):
            _assert_rejected(client.get(path, params={"q": value}), "q", api=path.startswith("/api"))

    @pytest.mark.parametrize("value", ["%", "_", "\\", "'; drop table study;--", "%FF"])
    def test_search_with_odd_text_answers_and_finds_nothing(self, client, value):
        body = client.get("/api/search", params={"q": value}).json()
        assert body["items"] == []
        assert client.get("/api/overview").json()["total"] > 0  # nothing was dropped


class TestLoginEverywhere:
    @pytest.mark.parametrize("path", ["/openapi.json", "/static/style.css"])
    def test_schema_and_stylesheet_redirect_anonymous_visitors_to_login(self, anonymous, path):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/api/v2/auth/login?next=%2Ftrialwatch")

    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
    def test_interactive_docs_are_not_served(self, anonymous, client, path):
        assert anonymous.get(path, follow_redirects=False).status_code == 404
        assert client.get(path).status_code == 404

    def test_logged_in_users_get_the_schema_and_the_stylesheet(self, client):
        schema = client.get("/openapi.json")
        assert schema.status_code == 200
        assert "/api/overview" in schema.json()["paths"]
        css = client.get("/static/style.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        stylesheet = Path(__file__).resolve().parents[2] / "plugins/trialwatch_ui/static/style.css"
        assert css.text == stylesheet.read_text(encoding="utf-8")

    def test_pages_link_the_stylesheet_they_can_load(self, client):
        page = client.get("/health").text
        assert 'href="/trialwatch/static/style.css"' in page

    @pytest.mark.parametrize("raw", ["..%2Fapp.py", "%2E%2E/app.py", "..%2F..%2Ftrialwatch_ui%2Fapp.py"])
    def test_static_files_never_leave_their_folder(self, client, raw):
        response = client.get(f"/static/{raw}")
        assert response.status_code == 404
        assert "create_app" not in response.text


class TestHostileWatchlistFolder:
    @pytest.fixture
    def hostile(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        (tmp_path / "nk-cells.yaml").write_text(GOOD.replace("NCT03418623", SEED), encoding="utf-8")
        (tmp_path / "laughs.yaml").write_text(billion_laughs(), encoding="utf-8")
        monkeypatch.setenv("TRIALWATCH_WATCHLISTS", str(tmp_path))
        return tmp_path

    def test_preview_lists_the_good_watchlist_and_the_alias_error(self, client, hostile):
        body = client.get("/api/preview").json()
        assert body["watchlists"] == ["nk-cells"]
        [problem] = body["problems"]
        assert problem.startswith(f"{hostile / 'laughs.yaml'}: line 2: YAML alias *l0")
        assert (
            client.get("/api/preview", params={"watchlist": "laughs"})
            .json()["message"]
            .startswith("No watchlist named 'laughs' is configured")
        )
        page = client.get("/preview", params={"watchlist": "nk-cells"})
        assert page.status_code == 200

    def test_feed_of_the_good_watchlist_is_served_and_the_laughs_is_404(self, client, hostile):
        assert client.get("/api/feeds/nk-cells.atom").status_code == 200
        assert client.get("/api/feeds/laughs.atom").status_code == 404
