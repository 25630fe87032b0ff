"""The catalog knows every field of the real v2 model and classifies unknown ones safely."""

from __future__ import annotations

import json

import pytest
from trialwatch import catalog, records
from trialwatch.catalog import Change, Thresholds
from trialwatch.events import CATEGORIES, SEVERITIES

from .samples import SAMPLES


def metadata_paths() -> set[str]:
    tree = json.loads((SAMPLES / "metadata" / "studies_metadata_aact_2024-10-08.json").read_text())
    paths: set[str] = set()

    def walk(nodes: list[dict], prefix: str) -> None:
        for node in nodes:
            path = prefix + node["name"]
            paths.add(path)
            walk(node.get("children", []), path + ".")

    walk(tree, "")
    return paths


def test_every_field_of_the_real_metadata_is_in_the_model() -> None:
    assert metadata_paths() <= records.MODEL_PATHS


def test_every_monitored_field_has_a_real_category_and_severity() -> None:
    for spec in catalog.all_specs():
        assert spec.known
        assert spec.category in CATEGORIES
        assert spec.label
        if spec.path.startswith("derivedSection"):
            continue
        # Only the protocol section itself and the free-text description are "other" by choice.
        by_choice = spec.path == "protocolSection" or spec.path.startswith(
            "protocolSection.descriptionModule"
        )
        assert spec.category != "other" or by_choice, spec.path
        severity = spec.severity_for(Change(old="a", new="b"), Thresholds())
        assert severity in SEVERITIES, spec.path


@pytest.mark.parametrize(
    ("path", "category", "label"),
    [
        ("protocolSection.statusModule.overallStatus", "status", "Overall status"),
        (
            "protocolSection.statusModule.expandedAccessInfo.hasExpandedAccess",
            "status",
            "Expanded access: has expanded access",
        ),
        ("protocolSection.designModule.enrollmentInfo.count", "enrollment", "Enrollment"),
        ("protocolSection.contactsLocationsModule.locations.status", "sites", "Site recruitment status"),
        (
            "protocolSection.contactsLocationsModule.overallOfficials.affiliation",
            "contacts",
            "Overall official: affiliation",
        ),
        ("protocolSection.sponsorCollaboratorsModule.leadSponsor.name", "sponsor", "Lead sponsor"),
        ("protocolSection.referencesModule.references.citation", "references", "Reference: citation"),
        ("documentSection.largeDocumentModule.largeDocs.filename", "documents", "Document: filename"),
        ("resultsSection.adverseEventsModule", "results", "Adverse events"),
        ("protocolSection.identificationModule.acronym", "identity", "Acronym"),
    ],
)
def test_catalog_entries(path: str, category: str, label: str) -> None:
    spec = catalog.lookup(path)
    assert (spec.category, spec.label) == (category, label)


def test_unknown_field_is_other_info_even_inside_a_known_module() -> None:
    for path in (
        "protocolSection.statusModule.brandNewField",
        "protocolSection.contactsLocationsModule.locations.floor",
        "shinySection",
    ):
        spec = catalog.lookup(path)
        assert (spec.category, spec.known) == ("other", False), path
        assert spec.severity_for(Change(old=1, new=2), Thresholds()) == "info"


def test_severity_rules_measure_against_thresholds() -> None:
    count = "protocolSection.designModule.enrollmentInfo.count"
    primary = "protocolSection.statusModule.primaryCompletionDateStruct.date"
    assert catalog.severity(count, Change(100, 110, percent=10.0)) == "major"
    assert catalog.severity(count, Change(100, 109, percent=9.0)) == "minor"
    assert catalog.severity(count, Change(0, 10)) == "major"
    assert catalog.severity(primary, Change("a", "b", days=90)) == "major"
    assert catalog.severity(primary, Change("a", "b", days=-89)) == "minor"
    assert (
        catalog.severity(primary, Change("a", "b", days=60), Thresholds(primary_completion_major_days=60))
        == "major"
    )
    completion = "protocolSection.statusModule.completionDateStruct.date"
    assert catalog.severity(completion, Change("a", "b", days=300)) == "minor"
    # a slip of a year or more is major whatever the watchlist says (docs/change-rules.md)
    assert catalog.severity(completion, Change("a", "b", days=365)) == "major"
    assert catalog.severity(completion, Change("a", "b", days=364)) == "minor"
    assert (
        catalog.severity(completion, Change("a", "b", days=200), Thresholds(completion_major_days=180))
        == "major"
    )


def test_thresholds_from_mapping_accepts_yaml_and_command_line_values() -> None:
    assert Thresholds.from_mapping({}) == Thresholds()
    assert Thresholds.from_mapping(None) == Thresholds()
    parsed = Thresholds.from_mapping(
        {
            "enrollment_major_pct": "20",
            "primary_completion_major_days": 60,
            "completion_major_days": "120",
            "start_major_days": "none",
            "critical_statuses": "terminated, withdrawn",
        }
    )
    assert parsed == Thresholds(
        enrollment_major_pct=20.0,
        primary_completion_major_days=60,
        completion_major_days=120,
        start_major_days=None,
        critical_statuses=("TERMINATED", "WITHDRAWN"),
    )
    assert Thresholds.from_mapping({"critical_statuses": ["SUSPENDED"]}).critical_statuses == ("SUSPENDED",)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"enrolment_major_pct": 10}, "enrolment_major_pct"),
        ({"enrollment_major_pct": "ten"}, "enrollment_major_pct='ten'"),
        ({"enrollment_major_pct": -1}, "enrollment_major_pct=-1"),
        ({"enrollment_major_pct": True}, "enrollment_major_pct=True"),
        ({"primary_completion_major_days": "3.5"}, "primary_completion_major_days='3.5'"),
        ({"primary_completion_major_days": None}, "primary_completion_major_days=None"),
        ({"critical_statuses": "TERMINATED,PAUSED"}, "PAUSED"),
        ({"critical_statuses": []}, "critical_statuses=[]"),
    ],
)
def test_thresholds_from_mapping_names_the_bad_entry(data: dict, named: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        Thresholds.from_mapping(data)
    assert named in str(caught.value)


def test_thresholds_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        Thresholds.from_mapping(["enrollment_major_pct=5"])  # type: ignore[arg-type]
