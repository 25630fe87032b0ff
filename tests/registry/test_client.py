"""CtgovClient against the replay registry over real HTTP: paging, batches, aliases, retries, politeness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from trialwatch.registry import (
    CtgovClient,
    NotJSONResponse,
    RegistryError,
    RegistryHTTPError,
    StudyNotFound,
)
from trialwatch.registry.client import default_user_agent, parse_retry_after
from trialwatch.replay.server import ReplayServer

from .conftest import ALIAS_ID, ALIASED_STUDY, FakeTime

SEEDS = ["NCT02185781", "NCT04327037"]
STUDIES_ON_DAY_1 = 20


def query_of(target: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))


class TestVersionAndStudy:
    def test_version_follows_the_replay_day(self, client: CtgovClient, replay: ReplayServer) -> None:
        assert client.version() == {"apiVersion": "2.0.5", "dataTimestamp": "2026-10-05T09:00:04"}
        replay.set_day(2)
        assert client.version()["dataTimestamp"] == "2026-10-09T09:00:06"

    def test_get_study_returns_the_canonical_record(self, client: CtgovClient) -> None:
        fetched = client.get_study("nct02185781")
        assert fetched.requested_id == "NCT02185781"
        assert fetched.nct_id == "NCT02185781"
        assert fetched.redirected is False
        assert fetched.study["protocolSection"]["statusModule"]["overallStatus"] == "RECRUITING"

    def test_unknown_study_raises_study_not_found_without_retry(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        with pytest.raises(StudyNotFound) as caught:
            client.get_study("NCT99999999")
        assert caught.value.nct_id == "NCT99999999"
        assert "/studies/NCT99999999" in str(caught.value)
        assert replay.requests_to("NCT99999999") == ["/api/v2/studies/NCT99999999"]

    def test_alias_is_followed_to_the_canonical_study(self, alias_replay: ReplayServer) -> None:
        with CtgovClient(alias_replay.base_url, min_interval=0) as client:
            fetched = client.get_study(ALIAS_ID)
        assert (fetched.requested_id, fetched.nct_id, fetched.redirected) == (ALIAS_ID, ALIASED_STUDY, True)
        assert alias_replay.requests_to("/studies/NCT") == [
            f"/api/v2/studies/{ALIAS_ID}",
            f"/api/v2/studies/{ALIASED_STUDY}",
        ]

    def test_alias_answers_301_with_location(self, alias_replay: ReplayServer) -> None:
        response = requests.get(
            f"{alias_replay.base_url}/studies/{ALIAS_ID}", allow_redirects=False, timeout=5
        )
        assert response.status_code == 301
        assert response.headers["Location"] == f"/api/v2/studies/{ALIASED_STUDY}"


class TestSearch:
    def test_pages_repeat_the_first_request_and_add_only_the_token(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        studies = list(client.search({"query.term": "a"}, page_size=3))
        sent = replay.requests_to("/api/v2/studies")
        assert len(sent) >= 2
        first = query_of(sent[0])
        assert "pageToken" not in first
        for later in sent[1:]:
            params = query_of(later)
            assert params.pop("pageToken")
            assert params == first
        ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
        assert len(ids) == len(set(ids))

    def test_stops_on_the_empty_page_after_an_exactly_full_page(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        studies = list(client.search({}, page_size=10))
        assert len(studies) == STUDIES_ON_DAY_1
        # 10 + 10 studies, then the spurious token leads to an empty page and paging stops there.
        assert len(replay.requests_to("/api/v2/studies")) == 3

    def test_page_size_above_1000_is_sent_as_1000(self, client: CtgovClient, replay: ReplayServer) -> None:
        assert len(client.search_ids({}, max_results=None)) == STUDIES_ON_DAY_1
        list(client.search({}, page_size=5000))
        assert query_of(replay.requests_to("/api/v2/studies")[-1])["pageSize"] == "1000"

    def test_duplicates_across_pages_are_yielded_once(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        first_page = requests.get(f"{replay.base_url}/studies", params={"pageSize": "2"}, timeout=5).json()
        repeated = {"studies": [first_page["studies"][1]]}
        replay.inject(r"pageToken=", status=200, body=json.dumps(repeated), content_type="application/json")
        studies = list(client.search({}, page_size=2))
        ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
        assert ids == [s["protocolSection"]["identificationModule"]["nctId"] for s in first_page["studies"]]

    def test_max_results_stops_early(self, client: CtgovClient, replay: ReplayServer) -> None:
        assert len(client.search_ids({}, max_results=4)) == 4
        assert len(replay.requests_to("/api/v2/studies")) == 1

    def test_default_watchlist_query_finds_both_seed_trials(self, client: CtgovClient) -> None:
        found = client.search_ids({"query.cond": "acute leukemia", "query.intr": "NK cells"})
        assert sorted(found) == SEEDS

    def test_fields_are_passed_through(self, client: CtgovClient) -> None:
        studies = list(client.search({"filter.ids": "NCT02185781"}, fields="NCTId,OverallStatus"))
        assert studies == [
            {
                "protocolSection": {
                    "identificationModule": {"nctId": "NCT02185781"},
                    "statusModule": {"overallStatus": "RECRUITING"},
                }
            }
        ]

    def test_a_repeated_page_token_stops_with_an_error_instead_of_looping(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        page = json.dumps(
            {
                "studies": [{"protocolSection": {"identificationModule": {"nctId": "NCT03418623"}}}],
                "nextPageToken": "SAME",
            }
        )
        replay.inject(
            r"^/api/v2/studies\?", status=200, times=None, body=page, content_type="application/json"
        )
        with pytest.raises(RegistryError, match="repeated page token 'SAME'"):
            list(client.search({"query.term": "anything"}))
        assert len(replay.requests_to(r"^/api/v2/studies\?")) == 2

    def test_a_redirect_to_another_host_is_refused(self, client: CtgovClient, replay: ReplayServer) -> None:
        replay.inject(
            r"^/api/v2/studies/NCT03418623", status=301, headers={"Location": "http://elsewhere.invalid/x"}
        )
        with pytest.raises(RegistryHTTPError, match="redirect to another host: http://elsewhere.invalid/x"):
            client.get_study("NCT03418623")


class TestFetchStudies:
    def test_batches_use_filter_ids(self, client: CtgovClient, replay: ReplayServer) -> None:
        ids = client.search_ids({}, max_results=10)
        result = client.fetch_studies(ids, batch_size=4)
        assert sorted(result.studies) == sorted(ids)
        assert (result.aliases, result.missing, result.errors) == ({}, [], {})
        batches = [query_of(t)["filter.ids"].split("|") for t in replay.requests_to("filter.ids=")]
        assert [len(batch) for batch in batches] == [4, 4, 2]

    def test_whole_batch_rejection_falls_back_to_single_calls(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        # NCT00000000 looks like an id but the registry rejects it, and with it the whole batch.
        result = client.fetch_studies(["NCT02185781", "NCT00000000", "NCT04327037", "NCT99999999"])
        assert sorted(result.studies) == SEEDS
        assert result.missing == ["NCT99999999"]
        assert list(result.errors) == ["NCT00000000"]
        assert "HTTP 400" in result.errors["NCT00000000"]
        assert len(replay.requests_to("filter.ids=")) == 1
        assert len(replay.requests_to(r"/api/v2/studies/NCT")) == 4

    def test_injected_batch_400_also_falls_back(self, client: CtgovClient, replay: ReplayServer) -> None:
        replay.inject(r"filter\.ids=", status=400, body="Invalid value in parameter filter.ids")
        result = client.fetch_studies(SEEDS)
        assert sorted(result.studies) == SEEDS
        assert len(replay.requests_to(r"/api/v2/studies/NCT")) == 2

    def test_ids_missing_from_a_batch_are_resolved_one_by_one(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        result = client.fetch_studies(["NCT02185781", "NCT99999998"])
        assert list(result.studies) == ["NCT02185781"]
        assert result.missing == ["NCT99999998"]
        assert replay.requests_to(r"/api/v2/studies/NCT") == ["/api/v2/studies/NCT99999998"]

    def test_malformed_ids_are_reported_without_a_request(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        result = client.fetch_studies(["not-an-id", "NCT02185781"])
        assert "not an NCT id" in result.errors["not-an-id"]
        assert list(result.studies) == ["NCT02185781"]
        assert len(replay.requests) == 1

    def test_alias_in_a_batch_maps_to_the_canonical_id(self, alias_replay: ReplayServer) -> None:
        with CtgovClient(alias_replay.base_url, min_interval=0) as client:
            result = client.fetch_studies([ALIAS_ID])
        assert list(result.studies) == [ALIASED_STUDY]
        assert result.aliases == {ALIAS_ID: ALIASED_STUDY}

    def test_one_failing_id_does_not_stop_the_others(self, client: CtgovClient, replay: ReplayServer) -> None:
        replay.inject(r"filter\.ids=", status=400)
        replay.inject(r"/studies/NCT02185781", status=403, body="Forbidden")
        result = client.fetch_studies(SEEDS)
        assert list(result.studies) == ["NCT04327037"]
        assert "HTTP 403" in result.errors["NCT02185781"] and "Forbidden" in result.errors["NCT02185781"]


class TestRetries:
    def test_429_retry_after_is_honoured(
        self, client: CtgovClient, replay: ReplayServer, fake_time: FakeTime
    ) -> None:
        replay.inject(r"/version", status=429, headers={"Retry-After": "7"}, body="Too Many Requests")
        assert client.version()["dataTimestamp"] == "2026-10-05T09:00:04"
        assert fake_time.sleeps == [7.0]
        assert len(replay.requests_to("/version")) == 2

    def test_retry_after_beyond_max_backoff_gives_up(self, replay: ReplayServer, fake_time: FakeTime) -> None:
        replay.inject(r"/version", status=503, headers={"Retry-After": "3600"})
        client = CtgovClient(replay.base_url, min_interval=0, max_backoff=60, sleep=fake_time.sleep)
        with pytest.raises(RegistryHTTPError, match="retry after 3600s"):
            client.version()
        assert fake_time.sleeps == []

    def test_503_backs_off_exponentially_then_succeeds(
        self, client: CtgovClient, replay: ReplayServer, fake_time: FakeTime
    ) -> None:
        replay.inject(r"/studies/NCT02185781", status=503, times=2)
        assert client.get_study("NCT02185781").nct_id == "NCT02185781"
        first, second = fake_time.sleeps
        assert 1.0 <= first <= 1.1 and 2.0 <= second <= 2.1
        assert len(replay.requests_to("/studies/NCT02185781")) == 3

    def test_gives_up_after_max_retries(self, replay: ReplayServer, fake_time: FakeTime) -> None:
        replay.inject(r"/version", status=502, times=None, body="Bad Gateway")
        client = CtgovClient(replay.base_url, min_interval=0, max_retries=2, sleep=fake_time.sleep)
        with pytest.raises(RegistryHTTPError) as caught:
            client.version()
        assert caught.value.status == 502
        assert "gave up after 3 attempts" in str(caught.value)
        assert len(replay.requests_to("/version")) == 3

    def test_400_is_not_retried(self, client: CtgovClient, replay: ReplayServer, fake_time: FakeTime) -> None:
        with pytest.raises(RegistryHTTPError) as caught:
            list(client.search({"filter.phase": "PHASE3"}))
        assert caught.value.status == 400
        assert "/api/v2/studies?filter.phase=PHASE3" in caught.value.url
        assert "Unknown parameter: filter.phase" in str(caught.value)
        assert len(replay.requests) == 1
        assert fake_time.sleeps == []

    def test_html_instead_of_json_raises_not_json_response(
        self, client: CtgovClient, replay: ReplayServer
    ) -> None:
        page = "<html><head><title>Service maintenance</title></head><body>Back soon</body></html>"
        replay.inject(r"/version", status=200, times=None, body=page, content_type="text/html")
        with pytest.raises(NotJSONResponse) as caught:
            client.version()
        message = str(caught.value)
        assert f"{replay.base_url}/version" in message
        assert "text/html" in message and "Service maintenance" in message
        assert len(replay.requests_to("/version")) == 3

    def test_html_once_is_retried(self, client: CtgovClient, replay: ReplayServer) -> None:
        replay.inject(r"/version", status=200, body="<html>oops</html>", content_type="text/html")
        assert client.version()["apiVersion"] == "2.0.5"

    def test_dropped_connection_is_retried(
        self, client: CtgovClient, replay: ReplayServer, fake_time: FakeTime
    ) -> None:
        replay.inject(r"/version", drop_connection=True)
        assert client.version()["apiVersion"] == "2.0.5"
        assert len(fake_time.sleeps) == 1
        assert len(replay.requests_to("/version")) == 2

    def test_unreachable_registry_names_the_url(self, fake_time: FakeTime) -> None:
        client = CtgovClient("http://127.0.0.1:9/api/v2", max_retries=1, timeout=2, sleep=fake_time.sleep)
        with pytest.raises(RegistryError, match=r"could not get http://127.0.0.1:9/api/v2/version after 2"):
            client.version()


class TestPoliteness:
    def test_requests_are_spaced_by_min_interval(self, replay: ReplayServer, fake_time: FakeTime) -> None:
        client = CtgovClient(replay.base_url, min_interval=1.0, sleep=fake_time.sleep, clock=fake_time.clock)
        client.version()
        client.version()
        fake_time.now += 0.25  # time spent elsewhere counts towards the interval
        client.version()
        assert fake_time.sleeps == [1.0, 0.75]

    def test_zero_interval_never_waits(self, client: CtgovClient, fake_time: FakeTime) -> None:
        for _ in range(3):
            client.version()
        assert fake_time.sleeps == []

    def test_user_agent_is_descriptive(self) -> None:
        agent = default_user_agent()
        assert agent.startswith("trialwatch/0.1.0 clinical-trial change monitor; python-requests/")

    def test_retry_after_accepts_seconds_and_http_dates(self, time_machine) -> None:  # type: ignore[no-untyped-def]
        now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
        time_machine.move_to(now, tick=False)
        assert parse_retry_after("12") == 12.0
        assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True)) == 30.0
        assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True)) == 0.0
        assert parse_retry_after("soon") is None
        assert parse_retry_after(None) is None
