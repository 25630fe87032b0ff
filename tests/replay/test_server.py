"""The replay registry over raw HTTP: the API subset, its quirks, days, admin endpoints and faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests
from trialwatch.replay.server import ReplayServer


def get(server: ReplayServer, path: str, **params: str) -> requests.Response:
    return requests.get(server.base_url + path, params=params, timeout=5, allow_redirects=False)


def nct_ids(answer: dict) -> list[str]:
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in answer["studies"]]


class TestStudiesPaging:
    def test_count_total_only_on_the_first_page(self, replay: ReplayServer) -> None:
        first = get(replay, "/studies", countTotal="true", pageSize="8").json()
        assert first["totalCount"] == 20
        second = get(
            replay, "/studies", countTotal="true", pageSize="8", pageToken=first["nextPageToken"]
        ).json()
        assert "totalCount" not in second
        assert len(second["studies"]) == 8
        assert not set(nct_ids(first)) & set(nct_ids(second))

    def test_exactly_full_page_carries_a_token_to_an_empty_page(self, replay: ReplayServer) -> None:
        first = get(replay, "/studies", pageSize="10").json()
        second = get(replay, "/studies", pageSize="10", pageToken=first["nextPageToken"]).json()
        assert len(second["studies"]) == 10 and "nextPageToken" in second
        third = get(replay, "/studies", pageSize="10", pageToken=second["nextPageToken"]).json()
        assert third == {"studies": []}

    def test_last_partial_page_has_no_token(self, replay: ReplayServer) -> None:
        answer = get(replay, "/studies", pageSize="1000").json()
        assert len(answer["studies"]) == 20 and "nextPageToken" not in answer

    def test_default_page_size_is_10_and_above_1000_is_coerced(self, replay: ReplayServer) -> None:
        assert len(get(replay, "/studies").json()["studies"]) == 10
        answer = get(replay, "/studies", pageSize="5000").json()
        assert len(answer["studies"]) == 20 and "nextPageToken" not in answer

    def test_token_is_opaque_and_url_safe(self, replay: ReplayServer) -> None:
        token = get(replay, "/studies", pageSize="3").json()["nextPageToken"]
        assert token and all(c.isalnum() or c in "-_" for c in token)

    def test_changed_parameters_with_a_token_are_rejected(self, replay: ReplayServer) -> None:
        token = get(replay, "/studies", pageSize="3", **{"query.cond": "leukemia"}).json()["nextPageToken"]
        response = get(replay, "/studies", pageSize="3", pageToken=token, **{"query.cond": "melanoma"})
        assert response.status_code == 400
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "repeat the first request's parameters" in response.text

    def test_garbled_token_is_rejected(self, replay: ReplayServer) -> None:
        response = get(replay, "/studies", pageToken="!!not-a-token")
        assert response.status_code == 400 and "pageToken" in response.text


class TestStudiesQueries:
    def test_no_query_and_no_filter_lists_every_study_of_the_day(
        self, replay: ReplayServer, replay_registry
    ) -> None:  # type: ignore[no-untyped-def]
        timeline = json.loads((replay_registry.data_dir / "timeline.json").read_text(encoding="utf-8"))
        for day in (1, 2):
            replay.set_day(day)
            date = replay_registry.day_info(day).date
            every = sorted(n for n, s in timeline["studies"].items() if s["versions"][0]["date"] <= date)
            answer = get(replay, "/studies", fields="NCTId", pageSize="1000", countTotal="true").json()
            assert sorted(nct_ids(answer)) == every and answer["totalCount"] == len(every)

    def test_default_watchlist_search_finds_both_seed_trials(self, replay: ReplayServer) -> None:
        answer = get(replay, "/studies", **{"query.cond": "acute leukemia", "query.intr": "NK cells"}).json()
        assert nct_ids(answer) == ["NCT02185781", "NCT04327037"]

    def test_queries_match_all_words_case_insensitively(self, replay: ReplayServer) -> None:
        assert nct_ids(
            get(replay, "/studies", **{"query.titles": "HAPLOIDENTICAL natural killer"}).json()
        ) == ["NCT04327037"]
        assert nct_ids(get(replay, "/studies", **{"query.intr": "interleukin-2"}).json()) == ["NCT04327037"]
        assert nct_ids(get(replay, "/studies", **{"query.term": "Istituto Superiore di Sanità"}).json()) == [
            "NCT02185781"
        ]
        assert get(replay, "/studies", **{"query.cond": "leukemia zebra"}).json() == {"studies": []}

    def test_filter_overall_status(self, replay: ReplayServer) -> None:
        answer = get(
            replay, "/studies", pageSize="100", **{"filter.overallStatus": "RECRUITING|NOT_YET_RECRUITING"}
        )
        statuses = {s["protocolSection"]["statusModule"]["overallStatus"] for s in answer.json()["studies"]}
        assert statuses == {"RECRUITING", "NOT_YET_RECRUITING"}
        bad = get(replay, "/studies", **{"filter.overallStatus": "FINISHED"})
        assert bad.status_code == 400 and "filter.overallStatus" in bad.text

    def test_filter_ids_accepts_commas_and_pipes(self, replay: ReplayServer) -> None:
        for separator in (",", "|"):
            ids = separator.join(["NCT04327037", "NCT02185781", "NCT99999999"])
            assert nct_ids(get(replay, "/studies", **{"filter.ids": ids}).json()) == [
                "NCT02185781",
                "NCT04327037",
            ]

    def test_filter_ids_with_a_malformed_id_rejects_the_batch(self, replay: ReplayServer) -> None:
        response = get(replay, "/studies", **{"filter.ids": "NCT02185781|NCT00000000"})
        assert response.status_code == 400 and "NCT00000000" in response.text

    def test_fields_limit_the_answer(self, replay: ReplayServer) -> None:
        answer = get(
            replay, "/studies", fields="NCTId|EnrollmentInfo|LocationStatus", **{"filter.ids": "NCT04327037"}
        ).json()
        assert answer["studies"] == [
            {
                "protocolSection": {
                    "identificationModule": {"nctId": "NCT04327037"},
                    "designModule": {"enrollmentInfo": {"count": 24, "type": "ESTIMATED"}},
                    "contactsLocationsModule": {"locations": [{"status": "RECRUITING"}]},
                }
            }
        ]
        bad = get(replay, "/studies", fields="ConditionList")
        assert bad.status_code == 400 and "invalid field name: ConditionList" in bad.text

    def test_filter_advanced_last_update_posted_range(self, replay: ReplayServer) -> None:
        # Day 2 serves new versions of the two seed trials, posted 2026-10-08 (timeline.json).
        replay.set_day(2)
        since = {"filter.advanced": "AREA[LastUpdatePostDate]RANGE[2026-10-03,MAX]", "pageSize": "100"}
        assert nct_ids(get(replay, "/studies", **since).json()) == ["NCT02185781", "NCT04327037"]
        replay.set_day(1)  # on day 1 their newest versions are older: nothing was posted since
        assert nct_ids(get(replay, "/studies", **since).json()) == []

    def test_filter_advanced_and_combination_with_other_filters(
        self, replay: ReplayServer, replay_registry
    ) -> None:  # type: ignore[no-untyped-def]
        since, until = (
            "AREA[LastUpdatePostDate]RANGE[2020-01-01,MAX]",
            "AREA[LastUpdatePostDate]RANGE[MIN, 2020-12-31]",
        )
        expression = f"({since}) AND {until}"
        answer = get(replay, "/studies", pageSize="100", fields="NCTId", **{"filter.advanced": expression})
        expected = []
        for served in replay_registry.current_all(1):
            posted = served.body["protocolSection"]["statusModule"].get("lastUpdatePostDateStruct", {})
            if "2020-01-01" <= posted.get("date", "") <= "2020-12-31":
                expected.append(served.nct_id)
        assert expected and nct_ids(answer.json()) == expected
        assert all(set(study) == {"protocolSection"} for study in answer.json()["studies"])
        ids = {"filter.ids": "|".join(expected[:1] + ["NCT02185781"]), "filter.advanced": expression}
        assert nct_ids(get(replay, "/studies", **ids).json()) == expected[:1]

    @pytest.mark.parametrize(
        "expression",
        [
            "AREA[Phase]PHASE3",
            "AREA[StartDate]RANGE[2020-01-01,MAX]",
            "AREA[LastUpdatePostDate]RANGE[2020,MAX]",
            "AREA[LastUpdatePostDate]RANGE[MIN,MAX] OR AREA[LastUpdatePostDate]RANGE[MIN,MAX]",
            "(AREA[LastUpdatePostDate]RANGE[MIN,MAX]",
            "AREA[LastUpdatePostDate]RANGE[MIN,MAX] AND",
        ],
    )
    def test_filter_advanced_beyond_date_ranges_is_400(self, replay: ReplayServer, expression: str) -> None:
        answer = get(replay, "/studies", **{"filter.advanced": expression})
        assert answer.status_code == 400 and "not supported by the replay registry" in answer.text

    def test_unknown_and_unsupported_parameters_are_400_text(self, replay: ReplayServer) -> None:
        unknown = get(replay, "/studies", **{"filter.phase": "PHASE3"})
        assert unknown.status_code == 400 and unknown.headers["Content-Type"].startswith("text/plain")
        assert "Unknown parameter: filter.phase" in unknown.text
        unsupported = get(replay, "/studies", **{"filter.geo": "distance(39.0,-77.1,50mi)"})
        assert unsupported.status_code == 400 and "not supported by the replay registry" in unsupported.text
        essie = get(replay, "/studies", **{"query.term": "AREA[LastUpdatePostDate]RANGE[2026-01-01,MAX]"})
        assert essie.status_code == 400 and "plain words" in essie.text


class TestSingleStudy:
    def test_study_by_id_in_any_case(self, replay: ReplayServer) -> None:
        answer = get(replay, "/studies/nct2185781")
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        assert answer.json()["protocolSection"]["identificationModule"]["nctId"] == "NCT02185781"

    def test_unknown_study_is_404_text(self, replay: ReplayServer) -> None:
        response = get(replay, "/studies/NCT99999999")
        assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/plain")
        assert "NCT99999999" in response.text

    def test_malformed_id_is_400(self, replay: ReplayServer) -> None:
        assert get(replay, "/studies/NCT-1").status_code == 400

    def test_study_with_fields(self, replay: ReplayServer) -> None:
        answer = get(replay, "/studies/NCT02185781", fields="OverallStatus").json()
        assert answer == {"protocolSection": {"statusModule": {"overallStatus": "RECRUITING"}}}


class TestDays:
    def test_version_timestamp_changes_per_day(self, replay: ReplayServer) -> None:
        assert get(replay, "/version").json() == {
            "apiVersion": "2.0.5",
            "dataTimestamp": "2026-10-05T09:00:04",
        }
        replay.set_day(2)
        assert (replay.day, replay.data_timestamp) == (2, "2026-10-09T09:00:06")
        assert get(replay, "/version").json()["dataTimestamp"] == "2026-10-09T09:00:06"

    def test_admin_endpoint_switches_day(self, replay: ReplayServer) -> None:
        switched = requests.post(f"{replay.root_url}/_replay/day/2", timeout=5)
        assert switched.status_code == 200 and switched.json()["day"] == 2
        assert requests.get(f"{replay.root_url}/_replay/status", timeout=5).json() == {
            "day": 2,
            "days": [1, 2],
            "date": "2026-10-09",
            "dataTimestamp": "2026-10-09T09:00:06",
        }
        assert get(replay, "/studies/NCT02185781").json()["protocolSection"]["statusModule"][
            "overallStatus"
        ] == ("COMPLETED")
        assert replay.requests == [("GET", "/api/v2/studies/NCT02185781")]  # admin calls are not logged

    def test_unknown_day_is_refused(self, replay: ReplayServer) -> None:
        response = requests.post(f"{replay.root_url}/_replay/day/9", timeout=5)
        assert response.status_code == 404 and "no replay day 9" in response.text
        with pytest.raises(ValueError, match="no replay day 0"):
            replay.set_day(0)
        assert replay.day == 1


class TestHistoryEndpoints:
    def test_study_with_history(self, replay: ReplayServer) -> None:
        answer = requests.get(f"{replay.root_url}/api/int/studies/NCT04327037?history=true", timeout=5).json()
        assert answer["protocolSection"]["identificationModule"]["nctId"] == "NCT04327037"
        changes = answer["history"]["changes"]
        assert [(c["version"], c["status"]) for c in changes] == [
            (0, "RECRUITING"),
            (1, "RECRUITING"),
            (2, "RECRUITING"),
        ]
        assert changes[0] == {
            "version": 0,
            "date": "2020-03-31",
            "status": "RECRUITING",
            "studyType": "INTERVENTIONAL",
            "moduleLabels": [],
        }

    def test_change_list_and_versions_follow_the_day(self, replay: ReplayServer) -> None:
        url = f"{replay.root_url}/api/int/studies/NCT04327037/history"
        assert len(requests.get(url, timeout=5).json()["changes"]) == 3
        assert requests.get(f"{url}/3", timeout=5).status_code == 404
        replay.set_day(2)
        assert len(requests.get(url, timeout=5).json()["changes"]) == 4
        version = requests.get(f"{url}/3", timeout=5).json()
        assert version["studyVersion"] == 3
        assert version["study"]["protocolSection"]["statusModule"]["overallStatus"] == "COMPLETED"


class TestFaults:
    def test_fault_answers_the_given_number_of_times(self, replay: ReplayServer) -> None:
        replay.inject(r"/version$", status=429, times=2, headers={"Retry-After": "3"}, body="slow down")
        first, second, third = (get(replay, "/version") for _ in range(3))
        assert (first.status_code, first.headers["Retry-After"], first.text) == (429, "3", "slow down")
        assert second.status_code == 429 and third.status_code == 200

    def test_fault_only_hits_matching_paths(self, replay: ReplayServer) -> None:
        replay.inject(r"/studies/NCT02185781", status=503, times=None)
        assert get(replay, "/studies/NCT02185781").status_code == 503
        assert get(replay, "/studies/NCT04327037").status_code == 200
        replay.clear_faults()
        assert get(replay, "/studies/NCT02185781").status_code == 200

    def test_html_page_with_200(self, replay: ReplayServer) -> None:
        replay.inject(r"/version", status=200, body="<html>maintenance</html>", content_type="text/html")
        response = get(replay, "/version")
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/html"

    def test_dropped_connection(self, replay: ReplayServer) -> None:
        replay.inject(r"/version", drop_connection=True)
        with pytest.raises(requests.ConnectionError):
            get(replay, "/version")
        assert get(replay, "/version").status_code == 200

    def test_request_log(self, replay: ReplayServer) -> None:
        get(replay, "/studies", pageSize="2")
        assert replay.requests == [("GET", "/api/v2/studies?pageSize=2")]
        assert replay.requests_to("pageSize") == ["/api/v2/studies?pageSize=2"]


def test_cli_serves_until_interrupted() -> None:
    command = [sys.executable, "-m", "trialwatch.cli", "replay", "--port", "0", "--day", "2"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("replay registry serving day 2 at http://127.0.0.1:")
        base_url = line.split(" at ")[1].strip()
        assert base_url.endswith("/api/v2")
        assert requests.get(f"{base_url}/version", timeout=5).json()["dataTimestamp"] == "2026-10-09T09:00:06"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
