"""HistoryAdapter against the replay registry's /api/int endpoints, day 1 vs day 2, and its failures."""

from __future__ import annotations

import json

import pytest
from trialwatch.registry import CtgovClient, HistoryAdapter, HistoryUnavailable, VersionInfo
from trialwatch.registry.history import int_base_url
from trialwatch.replay.server import ReplayServer


@pytest.fixture
def history(client: CtgovClient) -> HistoryAdapter:
    return HistoryAdapter(client)


def status_and_enrollment(study: dict) -> tuple[str, dict]:
    protocol = study["protocolSection"]
    return protocol["statusModule"]["overallStatus"], protocol["designModule"]["enrollmentInfo"]


class TestVersions:
    def test_day_1_lists_the_versions_posted_so_far(self, history: HistoryAdapter) -> None:
        versions = history.versions("NCT02185781")
        assert [v.version for v in versions] == [0, 1, 2, 3]
        assert versions[0] == VersionInfo(
            version=0, date="2014-07-10", status="NOT_YET_RECRUITING", module_labels=[]
        )
        assert versions[-1].status == "RECRUITING"

    def test_day_2_adds_the_new_versions(self, history: HistoryAdapter, replay: ReplayServer) -> None:
        replay.set_day(2)
        versions = history.versions("NCT02185781")
        assert [(v.version, v.date, v.status) for v in versions[-2:]] == [
            (4, "2026-10-07", "ACTIVE_NOT_RECRUITING"),
            (5, "2026-10-08", "COMPLETED"),
        ]
        assert "Study Design" in versions[4].module_labels
        assert [v.version for v in history.versions("NCT04327037")] == [0, 1, 2, 3]

    def test_noise_only_rebuild_is_not_a_new_version(
        self, history: HistoryAdapter, replay: ReplayServer
    ) -> None:
        day_1 = history.versions("NCT02552212")
        holder_1 = history.study_at("NCT02552212", 0)["derivedSection"]["miscInfoModule"]["versionHolder"]
        replay.set_day(2)
        assert history.versions("NCT02552212") == day_1
        holder_2 = history.study_at("NCT02552212", 0)["derivedSection"]["miscInfoModule"]["versionHolder"]
        assert (holder_1, holder_2) == ("2023-12-12", "2024-01-03")


class TestStudyAt:
    def test_past_and_current_versions(self, history: HistoryAdapter, replay: ReplayServer) -> None:
        assert status_and_enrollment(history.study_at("NCT02185781", 3)) == (
            "RECRUITING",
            {"count": 12, "type": "ESTIMATED"},
        )
        replay.set_day(2)
        assert status_and_enrollment(history.study_at("NCT02185781", 4)) == (
            "ACTIVE_NOT_RECRUITING",
            {"count": 6, "type": "ACTUAL"},
        )
        assert status_and_enrollment(history.study_at("NCT04327037", 3)) == (
            "COMPLETED",
            {"count": 10, "type": "ACTUAL"},
        )

    def test_version_not_yet_posted_is_unavailable(self, history: HistoryAdapter) -> None:
        with pytest.raises(HistoryUnavailable, match="version 4 of NCT02185781 unavailable: HTTP 404"):
            history.study_at("NCT02185781", 4)


class TestFailures:
    def test_server_error_becomes_history_unavailable(self, replay: ReplayServer) -> None:
        replay.inject(r"/api/int/", status=500, times=None, body="Internal Server Error")
        adapter = HistoryAdapter(
            CtgovClient(replay.base_url, min_interval=0, max_retries=1, sleep=lambda s: None)
        )
        with pytest.raises(HistoryUnavailable, match="HTTP 500") as caught:
            adapter.versions("NCT02185781")
        assert "/api/int/studies/NCT02185781?history=true" in str(caught.value)
        assert len(replay.requests_to("/api/int/")) == 2

    def test_unexpected_shape_becomes_history_unavailable(
        self, history: HistoryAdapter, replay: ReplayServer
    ) -> None:
        replay.inject(
            r"/api/int/",
            status=200,
            body=json.dumps({"history": {"changes": "none"}}),
            content_type="application/json",
        )
        with pytest.raises(HistoryUnavailable, match="no history.changes list"):
            history.versions("NCT02185781")

    def test_bad_change_entry_becomes_history_unavailable(
        self, history: HistoryAdapter, replay: ReplayServer
    ) -> None:
        body = {"history": {"changes": [{"version": "zero", "date": "2014-07-10"}]}}
        replay.inject(r"/api/int/", status=200, body=json.dumps(body), content_type="application/json")
        with pytest.raises(HistoryUnavailable, match="bad version number 'zero'"):
            history.versions("NCT02185781")

    def test_malformed_json_becomes_history_unavailable(
        self, history: HistoryAdapter, replay: ReplayServer
    ) -> None:
        replay.inject(
            r"/history/3",
            status=200,
            times=None,
            body='{"studyVersion": 3, "study": ',
            content_type="application/json",
        )
        with pytest.raises(HistoryUnavailable, match="expected JSON"):
            history.study_at("NCT02185781", 3)

    def test_version_answer_without_study_becomes_history_unavailable(
        self, history: HistoryAdapter, replay: ReplayServer
    ) -> None:
        replay.inject(
            r"/history/3", status=200, body=json.dumps({"studyVersion": 3}), content_type="application/json"
        )
        with pytest.raises(HistoryUnavailable, match="no study.protocolSection"):
            history.study_at("NCT02185781", 3)

    def test_base_url_without_api_v2_cannot_be_mapped(self) -> None:
        assert int_base_url("https://clinicaltrials.gov/api/v2/") == "https://clinicaltrials.gov/api/int"
        with pytest.raises(HistoryUnavailable, match="does not end in /api/v2"):
            HistoryAdapter(CtgovClient("http://127.0.0.1:9/registry")).versions("NCT02185781")
