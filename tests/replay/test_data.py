"""The recorded data: real samples served unchanged, seed records and their story from day 1 to day 2."""

from __future__ import annotations

import json

import pytest
from trialwatch.records import content_hash, nct_id_of
from trialwatch.replay import build_replay_data
from trialwatch.replay.server import DEFAULT_DATA_DIR, ReplayRegistry

SAMPLES = DEFAULT_DATA_DIR / "samples"


def real_single_studies() -> dict[str, dict]:
    """Every real single study in the samples, by id (first copy wins, as the timeline builder does)."""
    studies: dict[str, dict] = {}
    for pattern in ("study_*.json", "biomcp_get_*.json"):
        for path in sorted(SAMPLES.glob(pattern)):
            if "__vh2024-01-03" not in path.name:
                studies.setdefault(nct_id_of(json.loads(path.read_text())), json.loads(path.read_text()))
    for path in sorted(SAMPLES.glob("page_*.json")):
        for study in json.loads(path.read_text())["studies"]:
            studies.setdefault(nct_id_of(study), study)
    return studies


def test_committed_data_matches_the_builder() -> None:
    for relative, data in build_replay_data.build().items():
        committed = json.loads((DEFAULT_DATA_DIR / relative).read_text(encoding="utf-8"))
        assert committed == data, f"{relative} is stale: run python -m trialwatch.replay.build_replay_data"


@pytest.mark.parametrize("day", [1, 2])
def test_every_real_sample_is_served_unchanged_as_version_0(
    replay_registry: ReplayRegistry, day: int
) -> None:
    for nct_id, study in real_single_studies().items():
        served = replay_registry.current(day, nct_id)
        assert served is not None, f"{nct_id} not served on day {day}"
        assert served.version == 0
        if nct_id != "NCT02552212":
            assert served.body == study, nct_id


def test_noise_only_pair_changes_the_body_but_not_the_version(replay_registry: ReplayRegistry) -> None:
    day_1 = replay_registry.current(1, "NCT02552212")
    day_2 = replay_registry.current(2, "NCT02552212")
    assert day_1.body == json.loads((SAMPLES / "study_NCT02552212__vh2023-12-12.json").read_text())
    assert day_2.body == json.loads((SAMPLES / "study_NCT02552212__vh2024-01-03.json").read_text())
    assert day_1.version == day_2.version == 0
    assert day_1.body != day_2.body
    assert content_hash(day_1.body) == content_hash(day_2.body)


def seed(replay_registry: ReplayRegistry, day: int, nct_id: str) -> dict:
    return replay_registry.current(day, nct_id).body["protocolSection"]


def test_seeds_on_day_1_are_recruiting_with_estimated_enrollment(replay_registry: ReplayRegistry) -> None:
    for nct_id, count in (("NCT02185781", 12), ("NCT04327037", 24)):
        protocol = seed(replay_registry, 1, nct_id)
        assert protocol["statusModule"]["overallStatus"] == "RECRUITING"
        assert protocol["designModule"]["enrollmentInfo"] == {"count": count, "type": "ESTIMATED"}


def test_seeds_on_day_2_match_the_seed_pages(replay_registry: ReplayRegistry) -> None:
    gimema = seed(replay_registry, 2, "NCT02185781")
    assert gimema["identificationModule"]["orgStudyIdInfo"]["id"] == "LAL 2013"
    assert gimema["sponsorCollaboratorsModule"]["leadSponsor"]["name"] == (
        "Gruppo Italiano Malattie EMatologiche dell'Adulto"
    )
    assert gimema["statusModule"]["overallStatus"] == "COMPLETED"
    assert gimema["designModule"]["enrollmentInfo"] == {"count": 6, "type": "ACTUAL"}
    assert gimema["designModule"]["phases"] == ["PHASE1"]
    assert gimema["eligibilityModule"]["minimumAge"] == "60 Years"
    assert gimema["eligibilityModule"]["eligibilityCriteria"].startswith(
        "Inclusion Criteria:\n\n* Adult subjects"
    )
    assert (
        "\n\nExclusion Criteria:\n\n* Concurrent chemotherapy"
        in gimema["eligibilityModule"]["eligibilityCriteria"]
    )
    assert len(gimema["contactsLocationsModule"]["locations"]) == 6
    assert gimema["armsInterventionsModule"]["interventions"][0]["name"] == "Autologous NK cells infusions"

    belarus = seed(replay_registry, 2, "NCT04327037")
    assert belarus["statusModule"]["overallStatus"] == "COMPLETED"
    assert belarus["designModule"]["enrollmentInfo"] == {"count": 10, "type": "ACTUAL"}
    assert (belarus["eligibilityModule"]["minimumAge"], belarus["eligibilityModule"]["maximumAge"]) == (
        "1 Year",
        "30 Years",
    )
    assert [i["type"] for i in belarus["armsInterventionsModule"]["interventions"]] == ["DRUG", "BIOLOGICAL"]
    assert belarus["contactsLocationsModule"]["locations"][0]["status"] == "COMPLETED"


def test_day_2_changes_of_nct02185781(replay_registry: ReplayRegistry) -> None:
    versions = replay_registry.versions(2, "NCT02185781")
    day_1_current = replay_registry.current(1, "NCT02185781")
    assert day_1_current.version == 3
    middle, last = versions[4].body["protocolSection"], versions[5].body["protocolSection"]
    before = day_1_current.body["protocolSection"]["statusModule"]
    assert middle["statusModule"]["overallStatus"] == "ACTIVE_NOT_RECRUITING"
    assert middle["designModule"]["enrollmentInfo"] == {"count": 6, "type": "ACTUAL"}
    assert middle["statusModule"]["primaryCompletionDateStruct"] != before["primaryCompletionDateStruct"]
    assert last["statusModule"]["overallStatus"] == "COMPLETED"
    assert last["statusModule"]["primaryCompletionDateStruct"]["type"] == "ACTUAL"
    assert last["statusModule"]["completionDateStruct"]["type"] == "ACTUAL"


def test_day_2_changes_of_nct04327037_touch_one_site(replay_registry: ReplayRegistry) -> None:
    before = replay_registry.current(1, "NCT04327037").body["protocolSection"]
    after = replay_registry.current(2, "NCT04327037").body["protocolSection"]
    assert (
        replay_registry.current(2, "NCT04327037").version
        == replay_registry.current(1, "NCT04327037").version + 1
    )
    sites_before = before["contactsLocationsModule"]["locations"]
    sites_after = after["contactsLocationsModule"]["locations"]
    changed = [
        (a.get("status"), b.get("status")) for a, b in zip(sites_before, sites_after, strict=True) if a != b
    ]
    assert changed == [("RECRUITING", "COMPLETED")]


@pytest.mark.parametrize("nct_id", ["NCT02185781", "NCT04327037"])
def test_seed_versions_are_dated_consistently(replay_registry: ReplayRegistry, nct_id: str) -> None:
    holders = set()
    for served in replay_registry.versions(2, nct_id):
        status = served.body["protocolSection"]["statusModule"]
        assert status["lastUpdatePostDateStruct"]["date"] == served.date
        assert status["lastUpdateSubmitDate"] <= served.date
        assert nct_id_of(served.body) == nct_id
    for day in (1, 2):
        holders.add(
            replay_registry.current(day, nct_id).body["derivedSection"]["miscInfoModule"]["versionHolder"]
        )
    assert holders == {"2026-10-05", "2026-10-09"}
