"""Identity that survives re-encoding, bookkeeping defaults, aggregation and stage-aware severities."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
from trialwatch import catalog, records
from trialwatch.catalog import Change, Thresholds
from trialwatch.diff import diff_studies
from trialwatch.events import ChangeEvent
from trialwatch.store.repository import event_from_row, event_row
from trialwatch.watchlists import WatchlistError, load_watchlist

from .samples import load, protocol

CLL = "page_NCT05147467_with_token.json"
PARIS = "study_NCT06171568.json"


@pytest.mark.parametrize(
    ("garbled", "clean"),
    [
        ("UniversitÃ¤tsklinikum Frankfurt", "Universitätsklinikum Frankfurt"),  # read as Windows-1252
        ("Hospital Universitario de LeÃ³n", "Hospital Universitario de León"),
        ("Cosi\u0301o Villegas", "Cosío Villegas"),  # decomposed accent, composed (NFC)
        ("BSA 1.73 m², 5 µg", "BSA 1.73 m², 5 µg"),  # compatibility characters kept as typed
        ("Saint Thomas' Hospital", "Saint Thomas' Hospital"),  # ASCII is left alone
        ("Ã alone", "Ã alone"),  # not a round trip: left alone
    ],
)
def test_repair_text_undoes_mojibake_and_composes(garbled: str, clean: str) -> None:
    assert records.repair_text(garbled) == clean


def test_skeleton_folds_every_registry_spelling_of_one_name() -> None:
    spellings = [
        "Neurosurgery - Lariboisière hospital",
        "Neurosurgery - LariboisiÃ¨re hospital",
        "Neurosurgery - LariboisiĂ¨Re Hospital",  # Windows-1250 reading: lossy, then re-cased
        "NEUROSURGERY - LARIBOISI?RE HOSPITAL",
    ]
    assert len({records.text_skeleton(name) for name in spellings}) == 1
    assert records.text_skeleton("St John's") == records.text_skeleton("St John?s") == "stjohns"
    assert records.text_skeleton("Hôpital Nord") != records.text_skeleton("Hôpital Sud")


def test_site_key_uses_city_zip_and_country() -> None:
    site = {"facility": "Clinic", "city": "Paris", "zip": "75010", "country": "France"}
    assert records.site_key(site) == records.site_key({**site, "facility": "CLINIC", "state": "IdF"})
    assert records.site_key(site) != records.site_key({**site, "zip": "75013"})


def test_reference_key_prefers_pmid_then_doi() -> None:
    assert records.reference_key({"pmid": "123", "citation": "A"}) == ("pmid", "123")
    doi = {"citation": "Smith J. Title. J. 2020. doi: 10.1000/XYZ.1."}
    assert records.reference_key(doi) == ("doi", "10.1000/xyz.1")
    assert records.reference_key({"citation": "No identifier, here"})[0] == "citation"


def test_default_expanded_access_and_empty_structures_are_not_content() -> None:
    study = load(PARIS)
    bare = copy.deepcopy(study)
    del protocol(bare)["statusModule"]["expandedAccessInfo"]
    assert "seeAlsoLinks" not in protocol(bare)["referencesModule"]
    protocol(bare)["referencesModule"]["seeAlsoLinks"] = []
    protocol(bare)["oversightModule"]["isPpsd"] = None
    protocol(bare)["designModule"]["bioSpec"] = {}
    assert records.content_hash(bare) == records.content_hash(study)


def test_expanded_access_that_is_not_the_default_is_still_a_change() -> None:
    study = load(PARIS)
    granted = copy.deepcopy(study)
    protocol(granted)["statusModule"]["expandedAccessInfo"] = {"hasExpandedAccess": True}
    events = diff_studies(study, granted)
    assert [(e.category, e.field, e.old, e.new) for e in events] == [
        ("status", "Expanded access: has expanded access", None, True)
    ]


def test_a_not_applicable_phase_is_no_phase() -> None:
    study = load(PARIS)
    assert "phases" not in protocol(study)["designModule"]
    stated = copy.deepcopy(study)
    protocol(stated)["designModule"]["phases"] = ["NA"]
    assert records.content_hash(stated) == records.content_hash(study)
    assert diff_studies(stated, study) == [] == diff_studies(study, stated)


def test_a_real_phase_after_not_applicable_is_still_a_change() -> None:
    study = load(PARIS)
    protocol(study)["designModule"]["phases"] = ["NA"]
    phased = copy.deepcopy(study)
    protocol(phased)["designModule"]["phases"] = ["PHASE2"]
    assert [(e.category, e.severity, e.field) for e in diff_studies(study, phased)] == [
        ("design", "major", "Phase")
    ]


def test_encoding_flip_back_and_forth_never_alerts() -> None:
    first = load(PARIS)
    assert protocol(first)["contactsLocationsModule"]["locations"][0]["facility"] == (
        "Neurosurgery - Lariboisière hospital"
    )
    versions = [first]
    for spelling in ("Neurosurgery - Lariboisi?re hospital", "Neurosurgery - LariboisiÃ¨re Hospital"):
        version = copy.deepcopy(first)
        protocol(version)["contactsLocationsModule"]["locations"][0]["facility"] = spelling
        versions.append(version)
    history = [versions[0], versions[1], versions[2], versions[1], versions[0], versions[2]]
    for old, new in itertools.pairwise(history):
        assert diff_studies(old, new) == []


def test_a_genuinely_new_site_name_in_the_same_place_is_not_folded_away() -> None:
    old = load(PARIS)
    new = copy.deepcopy(old)
    protocol(new)["contactsLocationsModule"]["locations"][0]["facility"] = "Hôpital Saint-Louis"
    assert sorted((e.old is None, e.new is None) for e in diff_studies(old, new)) == [
        (False, True),
        (True, False),
    ]


def test_site_contacts_fold_into_the_site_status_change() -> None:
    old = load(CLL)
    new = copy.deepcopy(old)
    site = protocol(new)["contactsLocationsModule"]["locations"][0]
    site["status"] = "RECRUITING"
    site["contacts"] = [{"name": "Yang Liang", "role": "CONTACT", "phone": "+86 20 1"}]
    events = diff_studies(old, new)
    assert [(e.field, e.old, e.new) for e in events] == [
        ("Site recruitment status", "NOT_YET_RECRUITING", "RECRUITING")
    ]
    assert events[0].detail.endswith("; contacts updated")


def test_two_sites_with_the_same_change_aggregate_and_one_does_not() -> None:
    old = load(CLL)
    new = copy.deepcopy(old)
    locations = protocol(new)["contactsLocationsModule"]["locations"]
    statuses = [site["status"] for site in locations]
    first, second = [i for i, status in enumerate(statuses) if status == "NOT_YET_RECRUITING"][:2]
    locations[first]["status"] = "WITHDRAWN"
    events = diff_studies(old, new)
    assert [e.count for e in events] == [1] and events[0].members == []
    locations[second]["status"] = "WITHDRAWN"
    events = diff_studies(old, new)
    assert [(e.count, e.detail, e.old, e.new) for e in events] == [
        (2, "2 sites", "NOT_YET_RECRUITING", "WITHDRAWN")
    ]
    assert sorted(events[0].members) == sorted(
        ", ".join(p for p in (s["facility"], s["city"], s.get("state"), s["country"]) if p)
        for s in (locations[first], locations[second])
    )


def test_fields_of_an_object_stated_whole_aggregate_per_severity() -> None:
    # a withheld record made public states its design, description and conditions at once
    new = load(CLL)
    old = copy.deepcopy(new)
    del protocol(old)["designModule"]["designInfo"]
    del protocol(old)["descriptionModule"], protocol(old)["conditionsModule"]
    events = diff_studies(old, new)
    assert [(e.category, e.field, e.severity, e.count) for e in events] == [
        ("design", "Conditions", "minor", 1),  # alone in its severity: an event of its own
        ("design", "Study design", "minor", 4),
        ("design", "Keywords", "info", 1),
        ("other", "Description", "info", 2),
    ]
    assert sorted(events[1].members) == [
        "Allocation: — → NA",
        "Intervention model: — → SINGLE_GROUP",
        "Masking: — → NONE",
        "Primary purpose: — → TREATMENT",
    ]
    assert events[1].path == "protocolSection.designModule.designInfo"
    dropped = diff_studies(new, old)
    assert [(e.field, e.count, e.detail) for e in dropped if e.count > 1] == [
        ("Study design", 4, "4 fields removed"),
        ("Description", 2, "2 fields removed"),
    ]


def test_count_and_members_survive_dict_and_store_round_trips() -> None:
    event = ChangeEvent(
        category="sites",
        field="Site recruitment status",
        old=None,
        new="RECRUITING",
        severity="minor",
        detail="2 sites",
        nct_id="NCT05147467",
        extra={"count": 2, "members": ["A, Paris, France", "B, Lyon, France"]},
    )
    data = event.to_dict()
    assert (data["count"], data["members"]) == (2, ["A, Paris, France", "B, Lyon, France"])
    again = ChangeEvent.from_dict(data)
    assert (again.count, again.members) == (2, ["A, Paris, France", "B, Lyon, France"])
    stored = event_from_row(event_row(event))
    assert (stored.count, stored.members) == (2, ["A, Paris, France", "B, Lyon, France"])
    single = ChangeEvent(category="status", field="Overall status")
    assert (single.count, single.members, single.to_dict()["count"]) == (1, [], 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("NOT_YET_RECRUITING", "RECRUITING", "minor"),
        ("RECRUITING", "ACTIVE_NOT_RECRUITING", "minor"),
        ("ACTIVE_NOT_RECRUITING", "COMPLETED", "minor"),
        ("ACTIVE_NOT_RECRUITING", "RECRUITING", "major"),  # re-opening
        ("COMPLETED", "RECRUITING", "major"),
        ("RECRUITING", "UNKNOWN", "major"),
        ("RECRUITING", "SUSPENDED", "critical"),
        ("RECRUITING", "TERMINATED", "critical"),
        ("NOT_YET_RECRUITING", "WITHDRAWN", "critical"),
    ],
)
def test_status_steps(old: str, new: str, expected: str) -> None:
    path = "protocolSection.statusModule.overallStatus"
    assert catalog.severity(path, Change(old, new)) == expected


def test_outcome_and_arm_rules_follow_the_stage() -> None:
    primary = "protocolSection.outcomesModule.primaryOutcomes"
    secondary = "protocolSection.outcomesModule.secondaryOutcomes"
    arms = "protocolSection.armsInterventionsModule.armGroups"
    before, recruiting, ended = catalog.NOT_YET_RECRUITING, catalog.RECRUITING, catalog.ENDED
    assert catalog.severity(primary, Change(None, "x", kind="added", stage=before)) == "major"
    assert catalog.severity(primary, Change(None, "x", kind="added", stage=recruiting)) == "critical"
    assert catalog.severity(primary, Change("x", "X", kind="renamed", stage=ended)) == "info"
    assert catalog.severity(secondary, Change("x", None, kind="removed", stage=recruiting)) == "minor"
    assert catalog.severity(secondary, Change("x", None, kind="removed", stage=catalog.ACTIVE)) == "major"
    assert catalog.severity(arms, Change(None, "x", kind="added", stage=before)) == "minor"
    assert catalog.severity(arms, Change(None, "x", kind="added", stage=recruiting)) == "major"
    assert catalog.severity(arms, Change("x", "y", kind="renamed", stage=recruiting)) == "info"
    assert catalog.stage_of("UNKNOWN", "RECRUITING") == recruiting
    assert catalog.stage_of("WITHHELD") is None


def test_eligibility_rewrite_share_decides_major() -> None:
    path = "protocolSection.eligibilityModule.eligibilityCriteria"
    assert catalog.severity(path, Change(kind="rewritten", share=0.29)) == "minor"
    assert catalog.severity(path, Change(kind="rewritten", share=0.30)) == "major"


def test_category_minimum_raises_and_combines() -> None:
    loud = Thresholds.from_mapping({"category_minimum": {"status": "major", "sites": "minor"}})
    assert loud.category_minimum == (("sites", "minor"), ("status", "major"))
    path = "protocolSection.statusModule.overallStatus"
    assert catalog.severity(path, Change("NOT_YET_RECRUITING", "RECRUITING"), loud) == "major"
    assert catalog.severity(path, Change("RECRUITING", "SUSPENDED"), loud) == "critical"  # never lowers
    assert Thresholds.from_mapping(loud.to_mapping()) == loud
    assert Thresholds.from_mapping({"category_minimum": "status=critical"}).category_minimum == (
        ("status", "critical"),
    )
    both = Thresholds.most_sensitive(
        [loud, Thresholds.from_mapping({"category_minimum": {"status": "critical", "arms": "major"}})]
    )
    assert dict(both.category_minimum) == {"arms": "major", "sites": "minor", "status": "critical"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"statuz": "major"}, "unknown category 'statuz'"),
        ({"status": "loud"}, "unknown severity 'loud'"),
        (["status"], "a mapping of category to severity"),
    ],
)
def test_category_minimum_rejects_bad_values_naming_them(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds.from_mapping({"category_minimum": raw})


def test_a_watchlist_file_can_raise_a_category(tmp_path: Path) -> None:
    good = tmp_path / "loud.yaml"
    good.write_text(
        "title: Loud\ntrials: [NCT06171568]\nthresholds:\n  category_minimum: {status: major}\n",
        encoding="utf-8",
    )
    thresholds = Thresholds.from_mapping(load_watchlist(good).thresholds)
    assert thresholds.minimum_for("status") == "major"
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: Bad\ntrials: [NCT06171568]\nthresholds:\n  category_minimum: {stat: major}\n")
    with pytest.raises(
        WatchlistError, match=r"thresholds\.category_minimum \(line 4\).*unknown category 'stat'"
    ):
        load_watchlist(bad)
