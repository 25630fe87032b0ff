"""The registry client against a registry that misbehaves: every fault ends in a named error, in bounded time.

Each test is one cell of the fault matrix in docs/reliability.md. The client's limits are small
(conftest.LIMITS), so a fault the client no longer bounds fails the test instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from trialwatch.registry import CtgovClient, NotJSONResponse, RegistryError, RegistryHTTPError, StudyNotFound
from trialwatch.registry.errors import (
    MalformedResponse,
    RequestDeadlineExceeded,
    ResponseTooLarge,
    RunDeadlineExceeded,
    SearchCutOff,
    WrongStudyReturned,
)

from .conftest import FakeTime
from .fault_registry import SEARCH_IDS, Fault, FaultRegistry

WATCHED = "NCT10000001"
OTHER = "NCT10000002"


def page_ids(page: int, size: int = 1000) -> list[str]:
    """The ids the fault registry puts on its ``page``-th faulty page (see ``_numbered_ids``)."""
    return [f"NCT{30_000_000 + page * size + offset:08d}" for offset in range(size)]


# ----------------------------------------------------------------------------- paging


class TestPaging:
    def test_normal_search_returns_every_id_once(self, client: CtgovClient) -> None:
        assert client.search_ids({"query.term": "anything"}) == list(SEARCH_IDS)

    def test_alternating_page_tokens_stop_and_keep_what_was_found(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("alternating_tokens"))
        with pytest.raises(SearchCutOff, match="repeated page token 'A' after 3 pages") as caught:
            client.search_ids({"query.term": "melanoma"})
        assert "'query.term': 'melanoma'" in str(caught.value)
        assert caught.value.found == page_ids(0) + page_ids(1) + page_ids(2)
        tokens = [t.split("pageToken=")[1] for t in faults.requests_to("pageToken=")]
        assert tokens == ["A", "B"]

    def test_the_same_token_twice_stops_on_the_second_page(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("repeated_token"))
        with pytest.raises(SearchCutOff, match="repeated page token 'SAME' after 2 pages"):
            client.search_ids({"query.term": "melanoma"})
        assert len(faults.requests_to(r"^/api/v2/studies\?")) == 2

    def test_a_fresh_token_on_the_same_studies_stops_on_the_second_page(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("fresh_token_same_studies"))
        with pytest.raises(SearchCutOff, match="page 2 brought no study not seen") as caught:
            client.search_ids({"query.term": "melanoma"})
        assert caught.value.found == page_ids(0)
        assert len(faults.requests_to(r"^/api/v2/studies\?")) == 2

    def test_endless_new_ids_stop_at_the_page_cap_naming_the_query(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("endless_new_ids"))
        with pytest.raises(
            SearchCutOff, match=r"more than 5 pages \(max_pages, 5000 studies so far\)"
        ) as caught:
            client.search_ids({"query.cond": "cancer"})
        assert "'query.cond': 'cancer'" in str(caught.value)
        assert caught.value.found == [nct_id for page in range(5) for nct_id in page_ids(page)]
        assert len(faults.requests_to(r"^/api/v2/studies\?")) == 5

    def test_max_results_ends_an_endless_search_without_error(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("endless_new_ids"))
        assert (
            client.search_ids({"query.cond": "cancer"}, max_results=1500) == page_ids(0) + page_ids(1)[:500]
        )

    def test_a_search_answer_that_is_not_a_page_is_an_error(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("not_an_object"))
        with pytest.raises(RegistryError, match="no 'studies' list"):
            client.search_ids({"query.term": "x"})


# ----------------------------------------------------------------------------- slow and large bodies


class TestBoundedBodies:
    @pytest.mark.parametrize("mode", ["trickle", "trickle_no_length"])
    def test_a_trickling_body_fails_at_the_request_deadline(
        self, client: CtgovClient, faults: FaultRegistry, mode: str
    ) -> None:
        # One byte every 10 s would keep a per-read timeout (5 s here) waiting forever.
        faults.set(Fault(mode, trickle_seconds=10))
        with pytest.raises(RequestDeadlineExceeded, match=r"within 1.5 s \(request_timeout\)") as caught:
            client.get_study(WATCHED)
        assert f"/studies/{WATCHED}" in str(caught.value)
        assert len(faults.requests_to("/studies/")) == 1  # a deadline overrun is not retried

    def test_headers_trickling_faster_than_the_read_timeout_are_cut_at_the_deadline(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        fault = faults.set(Fault("trickle_headers", trickle_seconds=0.2))  # 230 bytes: 46 s if let run
        with pytest.raises(RequestDeadlineExceeded, match=r"within 1.5 s \(request_timeout\)"):
            client.get_study(WATCHED)
        assert len(faults.requests_to("/studies/")) == 1
        assert fault.sent < 100  # the client hung up long before the headers were complete

    def test_a_trickle_faster_than_the_read_timeout_is_still_cut_at_the_deadline(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        fault = faults.set(Fault("trickle", trickle_seconds=0.2))
        with pytest.raises(RequestDeadlineExceeded):
            client.get_study(WATCHED)
        assert fault.sent < 100  # of a record of several kB

    def test_a_declared_huge_body_is_refused_before_reading_it(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("huge_declared"))
        with pytest.raises(ResponseTooLarge, match=r"53,687,091,200 bytes, over the 1,000,000-byte limit"):
            client.get_study(WATCHED)

    def test_an_endless_body_stops_at_the_limit(self, client: CtgovClient, faults: FaultRegistry) -> None:
        faults.set(Fault("huge_streamed"))
        with pytest.raises(ResponseTooLarge, match=r"over the 1,000,000-byte limit \(max_record_bytes\)"):
            client.get_study(WATCHED)

    def test_a_huge_record_is_refused_naming_the_trial_and_the_limit(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("huge_record", target=WATCHED, record_bytes=2_000_000))
        with pytest.raises(
            ResponseTooLarge, match=r"over the 1,000,000-byte limit \(max_record_bytes\)"
        ) as caught:
            client.get_study(WATCHED)
        assert f"/studies/{WATCHED} is 2,0" in str(caught.value)
        assert client.get_study(OTHER).nct_id == OTHER

    def test_a_huge_record_inside_a_batch_page_fails_only_that_trial(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("huge_record", target=WATCHED, record_bytes=2_000_000))
        result = client.fetch_studies([WATCHED, OTHER])
        assert list(result.studies) == [OTHER]
        assert result.errors[WATCHED].startswith(f"{WATCHED}: record is ")
        assert "over the 1,000,000-byte limit (max_record_bytes)" in result.errors[WATCHED]
        assert faults.requests_to("/studies/NCT") == []  # settled from the page, no second request

    def test_a_batch_page_over_the_page_limit_falls_back_to_single_requests(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("huge_record", target=WATCHED, record_bytes=5_000_000, times=1))
        result = client.fetch_studies([WATCHED, OTHER])
        assert sorted(result.studies) == [WATCHED, OTHER]
        assert result.errors == {}
        assert faults.requests_to("/studies/NCT") == [
            f"/api/v2/studies/{WATCHED}",
            f"/api/v2/studies/{OTHER}",
        ]


# ----------------------------------------------------------------------------- what the registry says


class TestValidation:
    def test_a_record_of_another_id_is_an_error_not_an_alias(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("wrong_id", other_id="NCT20000001"))
        with pytest.raises(WrongStudyReturned, match=f"asked for {WATCHED}, registry returned NCT20000001"):
            client.get_study(WATCHED)

    def test_a_record_of_another_id_fails_that_trial_in_a_fetch(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("wrong_id", target=WATCHED, other_id="NCT20000001"))
        result = client.fetch_studies([WATCHED, OTHER])
        assert result.aliases == {}
        assert "NCT20000001" not in result.studies
        assert f"asked for {WATCHED}, registry returned NCT20000001" in result.errors[WATCHED]

    def test_a_batch_answer_with_an_unasked_record_is_ignored(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("wrong_id_in_batch", other_id="NCT20000001", times=1))
        result = client.fetch_studies([WATCHED])
        assert list(result.studies) == [WATCHED]  # fetched again on its own, and right this time
        assert result.aliases == {}
        assert faults.requests_to("/studies/NCT") == [f"/api/v2/studies/{WATCHED}"]

    @pytest.mark.parametrize(
        ("mode", "reason"),
        [
            ("nan", "NaN is not a JSON value"),
            ("infinity", "Infinity is not a JSON value"),
            ("overflow_float", "the number 1e999 is out of range"),
            ("long_number", "a number of 5000 characters, more than the 100 allowed"),
            ("deep_nesting", "nested more than 64 levels deep"),
        ],
    )
    def test_hostile_json_is_a_malformed_record_of_that_trial(
        self, client: CtgovClient, faults: FaultRegistry, mode: str, reason: str
    ) -> None:
        faults.set(Fault(mode, target=WATCHED))
        with pytest.raises(MalformedResponse, match=f"malformed record from .*/studies/{WATCHED}: {reason}"):
            client.get_study(WATCHED)
        assert len(faults.requests_to(f"/studies/{WATCHED}")) == 1  # not retried: it will not get better
        result = client.fetch_studies([WATCHED, OTHER])  # the batch's page fails: then one by one
        assert list(result.studies) == [OTHER]
        assert "malformed record" in result.errors[WATCHED] and reason in result.errors[WATCHED]

    def test_an_unknown_id_is_not_found(self, client: CtgovClient) -> None:
        with pytest.raises(StudyNotFound, match="study NCT99000001 not found"):
            client.get_study("NCT99000001")


# ----------------------------------------------------------------------------- status codes and broken answers


class TestBrokenAnswers:
    def test_429_with_retry_after_waits_as_asked(
        self, client: CtgovClient, faults: FaultRegistry, fake_time: FakeTime
    ) -> None:
        faults.set(Fault("status", status=429, headers={"Retry-After": "7"}, times=1))
        assert client.version()["apiVersion"] == "2.0.5"
        assert fake_time.sleeps == [7.0]

    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_a_lasting_5xx_gives_up_after_the_retries(
        self, client: CtgovClient, faults: FaultRegistry, status: int
    ) -> None:
        faults.set(Fault("status", status=status))
        with pytest.raises(RegistryHTTPError, match=f"HTTP {status} .*gave up after 3 attempts"):
            client.version()
        assert len(faults.requests_to("/version")) == 3

    def test_a_passing_5xx_is_retried(self, client: CtgovClient, faults: FaultRegistry) -> None:
        faults.set(Fault("status", status=500, times=1))
        assert client.get_study(WATCHED).nct_id == WATCHED
        assert len(faults.requests_to(f"/studies/{WATCHED}")) == 2

    def test_403_is_not_retried_and_says_why(self, client: CtgovClient, faults: FaultRegistry) -> None:
        faults.set(Fault("status", status=403))
        with pytest.raises(RegistryHTTPError, match="HTTP 403 .*blocked; check the User-Agent"):
            client.version()
        assert len(faults.requests_to("/version")) == 1

    def test_an_html_page_instead_of_json_is_named(self, client: CtgovClient, faults: FaultRegistry) -> None:
        faults.set(Fault("html"))
        with pytest.raises(NotJSONResponse, match="text/html.*Service maintenance"):
            client.version()
        assert len(faults.requests_to("/version")) == 3

    def test_a_truncated_body_once_is_retried(self, client: CtgovClient, faults: FaultRegistry) -> None:
        faults.set(Fault("truncated", times=1))
        assert client.version()["dataTimestamp"] == "2026-10-05T09:00:04"
        assert len(faults.requests_to("/version")) == 2

    def test_truncated_bodies_give_up_after_the_retries(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("truncated"))
        with pytest.raises(RegistryError, match=r"could not get .*/version after 3 attempt\(s\)"):
            client.version()

    def test_a_reset_connection_once_is_retried(self, client: CtgovClient, faults: FaultRegistry) -> None:
        faults.set(Fault("reset", times=1))
        assert client.get_study(WATCHED).nct_id == WATCHED

    def test_reset_connections_give_up_after_the_retries(
        self, client: CtgovClient, faults: FaultRegistry
    ) -> None:
        faults.set(Fault("reset"))
        with pytest.raises(RegistryError, match=r"could not get .*/version after 3 attempt\(s\)"):
            client.version()
        assert len(faults.requests_to("/version")) == 3


# ----------------------------------------------------------------------------- the run's deadline


class TestRunDeadline:
    def test_no_request_starts_after_the_run_deadline(
        self, make_client: Callable[..., CtgovClient], faults: FaultRegistry, fake_time: FakeTime
    ) -> None:
        client = make_client(run_deadline=fake_time.now + 60)
        assert client.version()["apiVersion"] == "2.0.5"
        fake_time.now += 61
        with pytest.raises(RunDeadlineExceeded, match=r"deadline has passed; did not request .*/version"):
            client.version()
        assert len(faults.requests_to("/version")) == 1

    def test_a_retry_that_would_wait_past_the_deadline_is_not_waited_for(
        self, make_client: Callable[..., CtgovClient], faults: FaultRegistry, fake_time: FakeTime
    ) -> None:
        client = make_client()
        client.set_run_budget(30)
        faults.set(Fault("status", status=429, headers={"Retry-After": "45"}))
        with pytest.raises(RunDeadlineExceeded):
            client.version()
        assert fake_time.sleeps == []
        assert len(faults.requests_to("/version")) == 1

    def test_after_the_deadline_every_remaining_trial_fails_without_a_request(
        self, make_client: Callable[..., CtgovClient], faults: FaultRegistry
    ) -> None:
        client = make_client()
        client.set_run_budget(0)
        result = client.fetch_studies([WATCHED, OTHER])
        assert result.studies == {}
        assert sorted(result.errors) == [WATCHED, OTHER]
        assert all("deadline has passed" in error for error in result.errors.values())
        assert faults.requests == []

    def test_lifting_the_deadline_allows_requests_again(
        self, make_client: Callable[..., CtgovClient], fake_time: FakeTime
    ) -> None:
        client = make_client(run_deadline=fake_time.now - 1)
        client.set_run_budget(None)
        assert client.version()["apiVersion"] == "2.0.5"
