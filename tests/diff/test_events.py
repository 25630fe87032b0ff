"""Each kind of real change, made to a real record, yields exactly the events a reader must see."""

from __future__ import annotations

import copy
from typing import Any

from trialwatch import records
from trialwatch.catalog import Thresholds
from trialwatch.diff import (
    alias_event,
    diff_studies,
    history_unavailable_note,
    left_query_event,
    record_gone_event,
)

from .samples import facts, load, protocol, shuffle_unordered

CLL = "page_NCT05147467_with_token.json"  # RECRUITING PHASE2, 11 sites with status and contacts
FL = "study_NCT03934567.json"  # ACTIVE_NOT_RECRUITING PHASE2, numbered criteria
BIOSS = "study_NCT03475563.json"  # UNKNOWN, enrollment 100 ESTIMATED, primary completion 2019-12-30
CF = "study_NCT00763412.json"  # COMPLETED with results


def changed(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    study = load(name)
    return study, copy.deepcopy(study)


# --- status ---------------------------------------------------------------------------------------------


def test_recruiting_to_suspended_is_critical_with_the_reason() -> None:
    old, new = changed(CLL)
    protocol(new)["statusModule"]["overallStatus"] = "SUSPENDED"
    protocol(new)["statusModule"]["whyStopped"] = "Sponsor decision pending safety review"
    assert facts(diff_studies(old, new)) == [
        (
            "status",
            "Overall status",
            "RECRUITING",
            "SUSPENDED",
            "critical",
            "why stopped: Sponsor decision pending safety review",
        )
    ]


def test_terminated_and_withdrawn_are_critical() -> None:
    for status in ("TERMINATED", "WITHDRAWN"):
        old, new = changed(CLL)
        protocol(new)["statusModule"]["overallStatus"] = status
        assert facts(diff_studies(old, new)) == [
            ("status", "Overall status", "RECRUITING", status, "critical", "")
        ]


def test_active_to_completed_is_a_minor_forward_step() -> None:
    old, new = changed(FL)
    protocol(new)["statusModule"]["overallStatus"] = "COMPLETED"
    assert facts(diff_studies(old, new)) == [
        ("status", "Overall status", "ACTIVE_NOT_RECRUITING", "COMPLETED", "minor", "")
    ]


def test_reopening_is_major_and_a_watchlist_can_raise_forward_steps() -> None:
    old, new = changed(FL)
    protocol(new)["statusModule"]["overallStatus"] = "RECRUITING"
    assert [e.severity for e in diff_studies(old, new)] == ["major"]
    protocol(new)["statusModule"]["overallStatus"] = "COMPLETED"
    loud = Thresholds.from_mapping({"category_minimum": {"status": "major"}})
    assert [e.severity for e in diff_studies(old, new, thresholds=loud)] == ["major"]


def test_why_stopped_alone_is_minor() -> None:
    old = load("study_NCT00184067.json")
    new = copy.deepcopy(old)
    protocol(new)["statusModule"]["whyStopped"] = "Funding ended"
    assert facts(diff_studies(old, new)) == [
        ("status", "Why stopped", "Primary PI left institution", "Funding ended", "minor", "")
    ]


def test_critical_statuses_follow_the_thresholds() -> None:
    old, new = changed(CLL)
    protocol(new)["statusModule"]["overallStatus"] = "SUSPENDED"
    thresholds = Thresholds(critical_statuses=("TERMINATED",))
    assert [e.severity for e in diff_studies(old, new, thresholds=thresholds)] == ["major"]


# --- enrollment ---------------------------------------------------------------------------------------------


def test_enrollment_plus_5_percent_is_minor() -> None:
    old, new = changed(BIOSS)
    protocol(new)["designModule"]["enrollmentInfo"]["count"] = 105
    assert facts(diff_studies(old, new)) == [("enrollment", "Enrollment", 100, 105, "minor", "+5.0%")]


def test_enrollment_plus_20_percent_is_major_unless_the_watchlist_says_otherwise() -> None:
    old, new = changed(BIOSS)
    protocol(new)["designModule"]["enrollmentInfo"]["count"] = 120
    assert facts(diff_studies(old, new)) == [("enrollment", "Enrollment", 100, 120, "major", "+20.0%")]
    relaxed = Thresholds.from_mapping({"enrollment_major_pct": "25"})
    assert [e.severity for e in diff_studies(old, new, thresholds=relaxed)] == ["minor"]


def test_enrollment_drop_counts_as_much_as_a_rise() -> None:
    old, new = changed(BIOSS)
    protocol(new)["designModule"]["enrollmentInfo"]["count"] = 60
    assert facts(diff_studies(old, new)) == [("enrollment", "Enrollment", 100, 60, "major", "-40.0%")]


def test_enrollment_unknown_sentinel_is_named_without_percent() -> None:
    old, new = changed(BIOSS)
    protocol(new)["designModule"]["enrollmentInfo"]["count"] = 99999999
    assert facts(diff_studies(old, new)) == [
        ("enrollment", "Enrollment", 100, 99999999, "minor", "now unknown (the registry's 99999999)")
    ]
    assert facts(diff_studies(new, old)) == [
        ("enrollment", "Enrollment", 99999999, 100, "minor", "was unknown (the registry's 99999999)")
    ]


def test_enrollment_type_estimated_to_actual_is_major() -> None:
    old, new = changed(BIOSS)
    protocol(new)["designModule"]["enrollmentInfo"]["type"] = "ACTUAL"
    assert facts(diff_studies(old, new)) == [
        ("enrollment", "Enrollment type", "ESTIMATED", "ACTUAL", "major", "ESTIMATED → ACTUAL")
    ]


# --- dates ------------------------------------------------------------------------------------------------


def test_primary_completion_slip_of_120_days_is_major() -> None:
    old, new = changed(BIOSS)
    protocol(new)["statusModule"]["primaryCompletionDateStruct"]["date"] = "2020-04-28"
    assert facts(diff_studies(old, new)) == [
        ("dates", "Primary completion date", "2019-12-30", "2020-04-28", "major", "slipped 120 days")
    ]


def test_primary_completion_slip_of_30_days_is_minor() -> None:
    old, new = changed(BIOSS)
    protocol(new)["statusModule"]["primaryCompletionDateStruct"]["date"] = "2020-01-29"
    assert facts(diff_studies(old, new)) == [
        ("dates", "Primary completion date", "2019-12-30", "2020-01-29", "minor", "slipped 30 days")
    ]


def test_primary_completion_reached_reports_date_and_type_as_one_change() -> None:
    old, new = changed(BIOSS)
    protocol(new)["statusModule"]["primaryCompletionDateStruct"] = {"date": "2019-12-20", "type": "ACTUAL"}
    [event] = diff_studies(old, new)
    assert facts([event]) == [
        (
            "dates",
            "Primary completion date",
            "2019-12-30",
            "2019-12-20",
            "minor",
            "moved 10 days earlier; ESTIMATED → ACTUAL",
        )
    ]
    assert event.extra["type"] == {"old": "ESTIMATED", "new": "ACTUAL"}


def test_enrollment_count_and_type_as_one_change_keeps_the_higher_severity() -> None:
    old, new = changed(BIOSS)
    protocol(new)["designModule"]["enrollmentInfo"] = {"count": 102, "type": "ACTUAL"}
    # +2% alone is minor; ESTIMATED → ACTUAL alone is major: together one major change.
    assert facts(diff_studies(old, new)) == [
        ("enrollment", "Enrollment", 100, 102, "major", "+2.0%; ESTIMATED → ACTUAL")
    ]


def test_partial_dates_compare_at_the_coarser_precision() -> None:
    old, new = changed(CLL)  # primary completion "2024-09", completion "2024-12"
    protocol(new)["statusModule"]["primaryCompletionDateStruct"]["date"] = "2024-09-17"
    protocol(new)["statusModule"]["completionDateStruct"]["date"] = "2025-03-15"
    assert facts(diff_studies(old, new)) == [
        ("dates", "Completion date", "2024-12", "2025-03-15", "minor", "slipped 90 days (compared by month)"),
        (
            "dates",
            "Primary completion date",
            "2024-09",
            "2024-09-17",
            "info",
            "same period, stated more precisely",
        ),
    ]


def test_a_type_printed_with_a_date_stated_more_precisely_stays_info() -> None:
    # NCT02970669: start "December 2016" without type (the registry's layout before 2017), then
    # "December 16, 2016" typed ACTUAL; a type that moves between two values still counts.
    old, new = changed(FL)
    protocol(old)["statusModule"]["startDateStruct"] = {"date": "2020-04"}
    protocol(new)["statusModule"]["startDateStruct"] = {"date": "2020-04-22", "type": "ACTUAL"}
    protocol(old)["statusModule"]["completionDateStruct"] = {"date": "2024-09", "type": "ESTIMATED"}
    protocol(new)["statusModule"]["completionDateStruct"] = {"date": "2024-09-17", "type": "ACTUAL"}
    assert facts(diff_studies(old, new)) == [
        (
            "dates",
            "Completion date",
            "2024-09",
            "2024-09-17",
            "minor",
            "same period, stated more precisely; ESTIMATED → ACTUAL",
        ),
        (
            "dates",
            "Start date",
            "2020-04",
            "2020-04-22",
            "info",
            "same period, stated more precisely; not stated → ACTUAL",
        ),
    ]


def test_start_date_move_is_minor() -> None:
    old, new = changed(FL)
    protocol(new)["statusModule"]["startDateStruct"]["date"] = "2020-06-22"
    assert facts(diff_studies(old, new)) == [
        ("dates", "Start date", "2020-04-22", "2020-06-22", "minor", "slipped 61 days")
    ]


# --- design ------------------------------------------------------------------------------------------------


def test_phase_change_is_major() -> None:
    old, new = changed(CLL)
    protocol(new)["designModule"]["phases"] = ["PHASE3", "PHASE2"]
    assert facts(diff_studies(old, new)) == [
        ("design", "Phase", ["PHASE2"], ["PHASE2", "PHASE3"], "major", "added PHASE3")
    ]


def test_masking_change_is_minor() -> None:
    old, new = changed(FL)
    protocol(new)["designModule"]["designInfo"]["maskingInfo"]["masking"] = "DOUBLE"
    assert facts(diff_studies(old, new)) == [("design", "Masking", "NONE", "DOUBLE", "minor", "")]


# --- sites ------------------------------------------------------------------------------------------------


def test_one_site_added() -> None:
    old, new = changed(CLL)
    protocol(new)["contactsLocationsModule"]["locations"].append(
        {
            "facility": "Peking Union Medical College Hospital",
            "status": "RECRUITING",
            "city": "Beijing",
            "country": "China",
        }
    )
    assert facts(diff_studies(old, new)) == [
        (
            "sites",
            "Site",
            None,
            "Peking Union Medical College Hospital, Beijing, China",
            "minor",
            "site added (RECRUITING)",
        )
    ]


def test_one_site_removed() -> None:
    old, new = changed(CLL)
    gone = protocol(new)["contactsLocationsModule"]["locations"].pop(3)
    assert gone["facility"] == "Hainan General Hospital"
    assert facts(diff_studies(old, new)) == [
        ("sites", "Site", "Hainan General Hospital, Haikou, Hainan, China", None, "minor", "site removed")
    ]


def test_one_site_status_change_in_a_reordered_list_is_one_event() -> None:
    old = load(CLL)
    new = shuffle_unordered(old, seed=3)
    for site in protocol(new)["contactsLocationsModule"]["locations"]:
        if site["facility"] == "Hainan General Hospital":
            site["status"] = "RECRUITING"
    assert facts(diff_studies(old, new)) == [
        (
            "sites",
            "Site recruitment status",
            "NOT_YET_RECRUITING",
            "RECRUITING",
            "minor",
            "Hainan General Hospital, Haikou, Hainan, China",
        )
    ]


def test_site_contact_change_is_one_event_for_the_site() -> None:
    old, new = changed(BIOSS)
    site = protocol(new)["contactsLocationsModule"]["locations"][0]
    before = [", ".join(str(v) for v in c.values() if v) for c in site["contacts"]]
    site["contacts"][0]["email"] = "new.contact@example.org"
    site["contacts"][0]["phone"] = "+34 900 000 000"
    events = diff_studies(old, new)
    assert len(events) == 1
    event = events[0]
    assert (event.category, event.field, event.severity) == ("sites", "Site contacts", "minor")
    assert event.detail == "Hospital Universitari Parc Taulí, Sabadell, Barcelona, Spain"
    assert event.old == before
    assert "new.contact@example.org" in event.new[0] and "+34 900 000 000" in event.new[0]


def test_first_site_in_a_new_country_also_reports_the_country() -> None:
    old, new = changed(BIOSS)
    protocol(new)["contactsLocationsModule"]["locations"].append(
        {"facility": "Hôpital Européen Georges-Pompidou", "city": "Paris", "country": "France"}
    )
    assert facts(diff_studies(old, new)) == [
        ("sites", "Country", None, "France", "minor", "country added (first site there)"),
        ("sites", "Site", None, "Hôpital Européen Georges-Pompidou, Paris, France", "minor", "site added"),
    ]


# --- eligibility ---------------------------------------------------------------------------------------------


def test_one_inclusion_criterion_changed() -> None:
    old, new = changed(FL)
    eligibility = protocol(new)["eligibilityModule"]
    eligibility["eligibilityCriteria"] = eligibility["eligibilityCriteria"].replace(
        "1. Life expectancy ≥ 3 months", "1. Life expectancy ≥ 6 months"
    )
    assert facts(diff_studies(old, new)) == [
        (
            "eligibility",
            "Inclusion criteria",
            "Life expectancy ≥ 3 months",
            "Life expectancy ≥ 6 months",
            "minor",
            "criterion changed",
        )
    ]


def test_a_criterion_that_only_changes_its_closing_punctuation_is_the_same() -> None:
    # NCT03204344 (2017 → 2018): exclusion item 4 ended "or higher." and, with items 5 and 6
    # appended after it, "or higher;"
    old, new = changed(FL)
    criteria = protocol(old)["eligibilityModule"]["eligibilityCriteria"]

    def with_last_items(*tail: str) -> str:
        return criteria.replace("other than follicular lymphoma", "\n".join(tail))

    protocol(old)["eligibilityModule"]["eligibilityCriteria"] = with_last_items(
        "other than follicular lymphoma."
    )
    protocol(new)["eligibilityModule"]["eligibilityCriteria"] = with_last_items(
        "other than follicular lymphoma;", "14. Pregnant or breastfeeding"
    )
    added = (
        "eligibility",
        "Exclusion criteria",
        None,
        "Pregnant or breastfeeding",
        "minor",
        "criterion added",
    )
    assert facts(diff_studies(old, new)) == [added]
    assert [e.detail for e in diff_studies(new, old)] == ["criterion removed"]
    # a closing word is content: "..., or" joins the next criterion
    protocol(old)["eligibilityModule"]["eligibilityCriteria"] = with_last_items(
        "other than follicular lymphoma, or"
    )
    assert sorted(e.detail for e in diff_studies(old, new)) == ["criterion added", "criterion changed"]


def test_exclusion_criterion_added_and_renumbering_is_not_a_change() -> None:
    old, new = changed(FL)
    eligibility = protocol(new)["eligibilityModule"]
    eligibility["eligibilityCriteria"] = eligibility["eligibilityCriteria"].replace(
        "Exclusion Criteria:\n\n1. ", "Exclusion Criteria:\n\n1. Pregnant or breastfeeding\n1. "
    )
    assert facts(diff_studies(old, new)) == [
        ("eligibility", "Exclusion criteria", None, "Pregnant or breastfeeding", "minor", "criterion added")
    ]


def test_minimum_age_change_is_minor() -> None:
    old, new = changed(FL)
    protocol(new)["eligibilityModule"]["minimumAge"] = "16 Years"
    assert facts(diff_studies(old, new)) == [
        ("eligibility", "Minimum age", "18 Years", "16 Years", "minor", "")
    ]


# --- outcomes ----------------------------------------------------------------------------------------------


def test_primary_outcome_time_frame_change_is_major() -> None:
    old, new = changed(CLL)
    outcome = protocol(new)["outcomesModule"]["primaryOutcomes"][0]
    previous = outcome["timeFrame"]
    outcome["timeFrame"] = "up to 36 months"
    assert facts(diff_studies(old, new)) == [
        (
            "outcomes",
            "Primary outcome time frame",
            previous,
            "up to 36 months",
            "major",
            "Objective Response Rate (ORR)",
        )
    ]


def test_primary_outcome_replaced_while_recruiting_is_critical() -> None:
    old, new = changed(CLL)
    protocol(new)["outcomesModule"]["primaryOutcomes"] = [
        {"measure": "Progression-free survival", "timeFrame": "up to 24 months"}
    ]
    assert facts(diff_studies(old, new)) == [
        (
            "outcomes",
            "Primary outcome",
            None,
            "Progression-free survival",
            "critical",
            "outcome added (time frame: up to 24 months)",
        ),
        ("outcomes", "Primary outcome", "Objective Response Rate (ORR)", None, "critical", "outcome removed"),
    ]


def test_secondary_outcome_added_is_minor() -> None:
    old, new = changed(CLL)
    protocol(new)["outcomesModule"]["secondaryOutcomes"].insert(
        0, {"measure": "Quality of life (EORTC QLQ-C30)", "timeFrame": "12 months"}
    )
    assert facts(diff_studies(old, new)) == [
        (
            "outcomes",
            "Secondary outcome",
            None,
            "Quality of life (EORTC QLQ-C30)",
            "minor",
            "outcome added (time frame: 12 months)",
        )
    ]


def test_duplicate_outcome_measures_are_matched_by_content() -> None:
    old, new = changed(BIOSS)  # two primary outcomes are both called "MACE"
    outcomes = protocol(new)["outcomesModule"]["primaryOutcomes"]
    maces = [o for o in outcomes if o["measure"] == "MACE"]
    assert len(maces) == 2
    outcomes.reverse()
    assert diff_studies(old, new) == []


# --- results, identity, other ----------------------------------------------------------------------------------


def test_results_first_posted_is_major() -> None:
    new = load(CF)
    old = copy.deepcopy(new)
    del old["resultsSection"]
    old["hasResults"] = False
    for key in ("resultsFirstSubmitDate", "resultsFirstSubmitQcDate", "resultsFirstPostDateStruct"):
        del protocol(old)["statusModule"][key]
    assert facts(diff_studies(old, new)) == [
        (
            "results",
            "Results first posted",
            None,
            "2017-06-05",
            "major",
            (
                "results posted: Participant flow, Baseline characteristics, Outcome measure results, "
                "Adverse events, More results information"
            ),
        ),
        ("results", "Results first submitted", None, "2016-07-11", "minor", ""),
        ("results", "Results first submitted that met QC criteria", None, "2017-05-03", "info", ""),
    ]


def test_results_content_change_is_summarised_per_module() -> None:
    old, new = changed(CF)
    module = new["resultsSection"]["baselineCharacteristicsModule"]
    module["populationDescription"] = "All randomised participants"
    module["measures"][0]["title"] = module["measures"][0]["title"] + " (years)"
    assert facts(diff_studies(old, new)) == [
        ("results", "Baseline characteristics", None, None, "minor", "2 values changed, 0 added, 0 removed")
    ]


def test_brief_title_change() -> None:
    old, new = changed(FL)
    protocol(new)["identificationModule"]["briefTitle"] = "Abexinostat in Relapsed Follicular Lymphoma"
    assert facts(diff_studies(old, new)) == [
        (
            "identity",
            "Brief title",
            protocol(old)["identificationModule"]["briefTitle"],
            "Abexinostat in Relapsed Follicular Lymphoma",
            "minor",
            "",
        )
    ]


def test_collaborator_added() -> None:
    old, new = changed(FL)
    protocol(new)["sponsorCollaboratorsModule"]["collaborators"] = [
        {"name": "Xynomic Pharma", "class": "INDUSTRY"}
    ]
    assert facts(diff_studies(old, new)) == [
        ("sponsor", "Collaborator", None, "Xynomic Pharma", "minor", "added")
    ]


def test_unknown_new_field_is_reported_as_other_info() -> None:
    old, new = changed(FL)
    protocol(new)["statusModule"]["pauseReasonCode"] = "P7"
    new["futureSection"] = {"flag": True}
    assert facts(diff_studies(old, new)) == [
        ("other", "Future section flag", None, True, "info", ""),
        ("other", "Status module pause reason code", None, "P7", "info", ""),
    ]


def test_events_carry_provenance_and_sort_by_severity_then_category() -> None:
    old, new = changed(CLL)
    protocol(new)["statusModule"]["overallStatus"] = "ENROLLING_BY_INVITATION"
    protocol(new)["designModule"]["enrollmentInfo"]["count"] = 76
    protocol(new)["contactsLocationsModule"]["locations"].pop(0)
    protocol(new)["descriptionModule"]["briefSummary"] += " Updated."
    events = diff_studies(
        old, new, old_version=4, new_version=5, old_version_date="2024-01-23", new_version_date="2024-03-01"
    )
    assert [(e.severity, e.category) for e in events] == [
        ("major", "status"),
        ("minor", "enrollment"),
        ("minor", "sites"),
        ("info", "other"),
    ]
    for event in events:
        assert event.nct_id == "NCT05147467"
        assert (event.old_version, event.new_version) == (4, 5)
        assert (event.old_version_date, event.new_version_date) == ("2024-01-23", "2024-03-01")
        assert event.old_hash == records.content_hash(old)
        assert event.new_hash == records.content_hash(new)
        assert event.compare_url.endswith("?tab=history&a=4&b=5#version-content-panel")
    assert diff_studies(old, new) == diff_studies(old, shuffle_unordered(new))


def test_identity_events() -> None:
    gone = record_gone_event("NCT05147467")
    assert (gone.category, gone.severity, gone.nct_id, gone.old, gone.new) == (
        "identity",
        "critical",
        "NCT05147467",
        "NCT05147467",
        None,
    )
    alias = alias_event("NCT00000001", "NCT05147467")
    assert (alias.category, alias.severity, alias.old, alias.new) == (
        "identity",
        "major",
        "NCT00000001",
        "NCT05147467",
    )
    assert "alias of NCT05147467" in alias.detail
    left = left_query_event("NCT05147467", "cll-competitors", "CLL recruiting")
    assert (left.category, left.severity) == ("identity", "minor")
    assert "CLL recruiting" in left.detail and "cll-competitors" in left.detail
    note = history_unavailable_note("NCT05147467", "HTTP 404")
    assert (note.category, note.severity) == ("identity", "info")


def test_a_module_of_unexpected_shape_is_reported_not_a_crash() -> None:
    old, new = changed(BIOSS)
    protocol(new)["outcomesModule"]["secondaryOutcomes"] = "see protocol"
    protocol(new)["contactsLocationsModule"]["locations"] = ["Clinic A", {"facility": "B"}]
    events = diff_studies(old, new)
    reported = {e.path for e in events}
    assert any(path.startswith("protocolSection.outcomesModule") for path in reported)
    assert any(path.startswith("protocolSection.contactsLocationsModule") for path in reported)
    assert "see protocol" in [e.new for e in events]
