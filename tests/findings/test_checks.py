"""Each check on records built from the real samples: a copy of one record, changed only where the case says."""

from __future__ import annotations

from datetime import date

import pytest
from trialwatch.findings import CHECKS, evaluate
from trialwatch.records import MalformedRecord

from .records import codes, design, load, oversight, status

LATE = date(2026, 11, 1)


# --- results overdue ---------------------------------------------------------------------------


def test_completed_years_ago_with_fda_flags_and_no_results_is_overdue() -> None:
    # Real record, unchanged: COMPLETED PHASE2, primary completion 2020-03-13 ACTUAL,
    # isFdaRegulatedDrug true, no results and no certification or extension.
    study = load("study_NCT03418623.json")
    [finding] = evaluate(study, as_of=LATE)
    assert finding.code == "results_overdue"
    assert finding.key == "NCT03418623/results_overdue"
    assert (finding.category, finding.severity, finding.certainty) == ("results", "critical", "high")
    assert finding.rule == "FDAAA 801 / 42 CFR 11.44"
    assert finding.evidence["primary_completion_date"] == "2020-03-13"
    assert finding.evidence["results_due"] == "2021-03-13"
    assert finding.evidence["is_fda_regulated_drug"] is True
    assert "due by 2021-03-13" in finding.detail


def test_as_of_moves_the_results_deadline() -> None:
    study = load("study_NCT03418623.json")  # primary completion 2020-03-13: due one year later
    assert evaluate(study, as_of=date(2021, 3, 13)) == []
    assert codes(evaluate(study, as_of=date(2021, 3, 14))) == ["results_overdue"]


def test_a_month_only_completion_date_counts_from_the_months_last_day() -> None:
    study = load("study_NCT03418623.json")
    status(study)["primaryCompletionDateStruct"]["date"] = "2020-03"  # the whole of March 2020
    assert evaluate(study, as_of=date(2021, 3, 31)) == []
    [finding] = evaluate(study, as_of=date(2021, 4, 1))
    assert finding.evidence["results_due"] == "2021-03-31"


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param({"dispFirstSubmitDate": "2021-02-01"}, id="certification-or-extension"),
        pytest.param({"resultsFirstSubmitDate": "2021-02-01"}, id="results-submitted"),
    ],
)
def test_results_on_file_or_a_delay_request_is_not_overdue(edit: dict[str, str]) -> None:
    study = load("study_NCT03418623.json")
    status(study).update(edit)
    assert evaluate(study, as_of=LATE) == []


def test_results_under_quality_control_review_are_not_overdue() -> None:
    study = load("study_NCT03418623.json")
    study["annotationSection"] = {
        "annotationModule": {
            "unpostedAnnotation": {"unpostedEvents": [{"type": "RELEASE", "date": "2021-02-01"}]}
        }
    }
    assert evaluate(study, as_of=LATE) == []


def test_has_results_true_is_not_overdue() -> None:
    study = load("study_NCT03418623.json")
    study["hasResults"] = True
    assert evaluate(study, as_of=LATE) == []


def test_without_fda_flags_the_guess_is_less_certain() -> None:
    study = load("study_NCT03418623.json")
    oversight(study).pop("isFdaRegulatedDrug")
    oversight(study).pop("isFdaRegulatedDevice")
    [finding] = evaluate(study, as_of=LATE)  # PHASE2 with its one site in the United States
    assert (finding.certainty, finding.severity) == ("medium", "major")
    study["protocolSection"]["contactsLocationsModule"]["locations"][0]["country"] = "Canada"
    [finding] = evaluate(study, as_of=LATE)
    assert (finding.certainty, finding.severity) == ("low", "minor")


def test_flags_saying_not_fda_regulated_mean_no_results_finding() -> None:
    study = load("study_NCT03418623.json")  # isFdaRegulatedDevice is already false
    oversight(study)["isFdaRegulatedDrug"] = False
    assert evaluate(study, as_of=LATE) == []


def test_phase_1_drug_trial_is_not_an_applicable_trial() -> None:
    study = load("study_NCT03418623.json")
    design(study)["phases"] = ["PHASE1"]
    assert evaluate(study, as_of=LATE) == []
    design(study)["phases"] = ["PHASE1", "PHASE2"]  # a phase 1/2 trial is
    assert codes(evaluate(study, as_of=LATE)) == ["results_overdue"]


def test_observational_or_withdrawn_study_owes_no_results() -> None:
    observational = load("study_NCT03418623.json")
    design(observational)["studyType"] = "OBSERVATIONAL"
    assert evaluate(observational, as_of=LATE) == []
    withdrawn = load("study_NCT03418623.json")
    status(withdrawn)["overallStatus"] = "WITHDRAWN"
    status(withdrawn)["whyStopped"] = "No participants enrolled"
    assert evaluate(withdrawn, as_of=LATE) == []


def test_estimated_primary_completion_is_not_a_results_deadline() -> None:
    study = load("study_NCT03418623.json")
    status(study)["primaryCompletionDateStruct"]["type"] = "ESTIMATED"
    assert evaluate(study, as_of=LATE) == []


def test_completion_before_the_final_rule_lowers_the_certainty() -> None:
    study = load("study_NCT03418623.json")
    status(study)["primaryCompletionDateStruct"] = {"date": "2016-05", "type": "ACTUAL"}
    status(study)["startDateStruct"] = {"date": "2015-01", "type": "ACTUAL"}
    status(study)["completionDateStruct"] = {"date": "2016-05", "type": "ACTUAL"}
    [finding] = evaluate(study, as_of=LATE)
    assert (finding.certainty, finding.severity) == ("medium", "major")
    assert "before the final rule" in finding.detail


def test_trial_completed_before_fdaaa_owes_no_results() -> None:
    # Real record: TERMINATED PHASE2 (US site, no FDA flags), primary completion 2007-04 ACTUAL.
    study = load("study_NCT00184067.json")
    assert evaluate(study, as_of=LATE) == []
    status(study)["primaryCompletionDateStruct"]["date"] = "2009-04"  # after FDAAA, before the final rule
    [finding] = evaluate(study, as_of=LATE)
    assert finding.code == "results_overdue"
    assert finding.certainty == "low"  # medium for flags missing with a US site, one step lower before 2017


def test_device_feasibility_study_is_not_an_applicable_trial() -> None:
    study = load("study_NCT04207047.json")  # real: FDA-regulated device, no results
    assert "results_overdue" in codes(evaluate(study, as_of=LATE))
    design(study)["designInfo"]["primaryPurpose"] = "DEVICE_FEASIBILITY"
    assert "results_overdue" not in codes(evaluate(study, as_of=LATE))


# --- status out of date ------------------------------------------------------------------------


def test_recruiting_past_its_primary_completion_date() -> None:
    # Real record: RECRUITING, primary completion 2024-09 ESTIMATED; verification set fresh so only
    # the date check speaks.
    study = load("page_NCT05147467_with_token.json")
    status(study)["statusVerifiedDate"] = "2024-09"
    assert evaluate(study, as_of=date(2024, 9, 30)) == []  # "2024-09" has not passed until October
    [finding] = evaluate(study, as_of=date(2024, 10, 1))
    assert (finding.code, finding.category, finding.severity) == ("status_past_completion", "status", "major")
    assert finding.evidence == {
        "overall_status": "RECRUITING",
        "primary_completion_date": "2024-09",
        "primary_completion_type": "ESTIMATED",
    }


def test_without_a_primary_completion_date_the_completion_date_counts() -> None:
    study = load("page_NCT05147467_with_token.json")  # completion 2024-12 ESTIMATED
    status(study)["statusVerifiedDate"] = "2024-09"
    del status(study)["primaryCompletionDateStruct"]
    assert evaluate(study, as_of=date(2024, 12, 31)) == []
    [finding] = evaluate(study, as_of=date(2025, 1, 1))
    assert finding.evidence["completion_date"] == "2024-12"


def test_not_yet_recruiting_six_months_after_start() -> None:
    # Real record: NOT_YET_RECRUITING, start 2024-02-01 ESTIMATED, verified 2023-12.
    study = load("study_NCT06171568.json")
    assert evaluate(study, as_of=date(2024, 8, 1)) == []
    [finding] = evaluate(study, as_of=date(2024, 8, 2))
    assert (finding.code, finding.severity) == ("recruitment_not_started", "minor")
    assert finding.evidence["start_date"] == "2024-02-01"


def test_status_verified_over_two_years_ago() -> None:
    # Real record: RECRUITING, statusVerifiedDate 2024-07, primary completion 2027-01-16 ESTIMATED.
    study = load("page_NCT06388018_single_no_token.json")
    assert evaluate(study, as_of=date(2026, 7, 31)) == []
    [finding] = evaluate(study, as_of=date(2026, 8, 1))
    assert (finding.code, finding.category, finding.severity) == ("verification_stale", "status", "major")
    assert finding.evidence == {"overall_status": "RECRUITING", "status_verified_date": "2024-07"}


def test_unknown_status_record_names_its_last_known_status() -> None:
    study = load("study_NCT03475563.json")  # real: UNKNOWN, last known RECRUITING, verified 2019-11
    [finding] = evaluate(study, as_of=LATE)
    assert finding.code == "verification_stale"
    assert finding.evidence["last_known_status"] == "RECRUITING"


def test_a_finished_study_needs_no_verification() -> None:
    study = load("study_NCT00763412.json")  # real: COMPLETED with results, verified 2017-05
    assert evaluate(study, as_of=LATE) == []


# --- enrollment shortfall ----------------------------------------------------------------------


def test_shortfall_needs_the_previous_anticipated_figure() -> None:
    # Replay version v3 of NCT04327037: COMPLETED with 10 ACTUAL (v2 anticipated 24 ESTIMATED).
    study = load("NCT04327037/v3.json")
    assert evaluate(study, as_of=date(2026, 10, 1)) == []
    assert evaluate(study, as_of=date(2026, 10, 1), previous_anticipated=20) == []  # exactly half
    [finding] = evaluate(study, as_of=date(2026, 10, 1), previous_anticipated=21)
    assert (finding.code, finding.category, finding.severity) == (
        "enrollment_shortfall",
        "enrollment",
        "major",
    )
    assert finding.evidence == {"overall_status": "COMPLETED", "actual": 10, "anticipated": 21}
    assert "48%" in finding.detail


def test_terminated_study_far_below_its_anticipated_enrollment() -> None:
    study = load("study_NCT00184067.json")  # real: TERMINATED, 23 ACTUAL
    assert codes(evaluate(study, as_of=LATE, previous_anticipated=60)) == ["enrollment_shortfall"]


def test_ongoing_study_or_unknown_anticipated_figure_gives_no_shortfall() -> None:
    active = load("study_NCT03934567.json")  # real: ACTIVE_NOT_RECRUITING, 87 ACTUAL
    assert evaluate(active, as_of=date(2025, 6, 1), previous_anticipated=400) == []
    terminated = load("study_NCT00184067.json")
    assert evaluate(terminated, as_of=LATE, previous_anticipated=99999999) == []  # registry's "not known"
    assert evaluate(terminated, as_of=LATE, previous_anticipated=0) == []


@pytest.mark.parametrize("bad", [-1, 2.5, True, "40"])
def test_a_bad_previous_anticipated_figure_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="previous_anticipated"):
        evaluate(load("study_NCT00184067.json"), as_of=LATE, previous_anticipated=bad)  # type: ignore[arg-type]


# --- record inconsistencies --------------------------------------------------------------------


def test_actual_date_in_the_future() -> None:
    # Real record evaluated before its own actual primary completion date (2025-01-29 ACTUAL).
    study = load("study_NCT03934567.json")
    [finding] = evaluate(study, as_of=date(2025, 1, 15))
    assert (finding.code, finding.category) == ("actual_date_in_future", "dates")
    assert finding.key == "NCT03934567/actual_date_in_future/primary_completion"
    assert evaluate(study, as_of=date(2025, 1, 29)) == []


def test_a_month_only_actual_date_is_not_in_the_future_within_its_month() -> None:
    study = load("study_NCT03934567.json")
    status(study)["primaryCompletionDateStruct"]["date"] = "2025-02"
    assert evaluate(study, as_of=date(2025, 2, 1)) == []
    assert codes(evaluate(study, as_of=date(2025, 1, 31))) == ["actual_date_in_future"]


def test_completion_before_start() -> None:
    # Real record: start 2018-08-20, primary completion 2019-01-20, completion 2019-02-28.
    study = load("study_NCT03630471.json")
    assert evaluate(study, as_of=LATE) == []
    status(study)["completionDateStruct"]["date"] = "2018-07-31"
    found = evaluate(study, as_of=LATE)
    assert [f.key for f in found] == [
        "NCT03630471/dates_out_of_order/completion_before_start",
        "NCT03630471/dates_out_of_order/completion_before_primary_completion",
    ]


def test_dates_in_the_same_month_are_not_out_of_order() -> None:
    study = load("study_NCT03630471.json")
    status(study)["completionDateStruct"]["date"] = "2018-08"  # start is 2018-08-20
    status(study)["primaryCompletionDateStruct"]["date"] = "2018-08"
    assert evaluate(study, as_of=LATE) == []


@pytest.mark.parametrize("why", [None, "", "   "])
def test_terminated_without_a_reason(why: str | None) -> None:
    study = load("study_NCT00184067.json")  # real: TERMINATED, "Primary PI left institution"
    if why is None:
        del status(study)["whyStopped"]
    else:
        status(study)["whyStopped"] = why
    [finding] = evaluate(study, as_of=LATE)
    assert (finding.code, finding.severity) == ("stop_reason_missing", "minor")
    assert finding.evidence == {"overall_status": "TERMINATED"}


# --- a clean record, switching checks, bad input -----------------------------------------------


def test_clean_recently_verified_record_has_no_finding() -> None:
    # Real record: RECRUITING, verified 2024-07, start 2025-01-16 and completion 2027 estimated.
    assert evaluate(load("page_NCT06388018_single_no_token.json"), as_of=date(2025, 1, 1)) == []


def test_enabled_limits_the_checks() -> None:
    study = load("study_NCT06171568.json")  # three status findings at LATE
    assert sorted(codes(evaluate(study, as_of=LATE))) == [
        "recruitment_not_started",
        "status_past_completion",
        "verification_stale",
    ]
    assert codes(evaluate(study, as_of=LATE, enabled={"verification_stale"})) == ["verification_stale"]
    assert evaluate(study, as_of=LATE, enabled=set()) == []


def test_an_unknown_check_is_named() -> None:
    with pytest.raises(ValueError, match="'results_late'"):
        evaluate(load("study_NCT06171568.json"), as_of=LATE, enabled={"results_late"})


def test_findings_come_highest_severity_first() -> None:
    found = evaluate(load("study_NCT06171568.json"), as_of=LATE)
    assert [f.severity for f in found] == ["major", "major", "minor"]


def test_every_finding_carries_its_checks_rule_and_category() -> None:
    found = evaluate(load("study_NCT04207047.json"), as_of=LATE)
    assert found
    for finding in found:
        assert finding.rule == CHECKS[finding.code].rule
        assert finding.category == CHECKS[finding.code].category


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "startDateStruct",
            {"date": "2018-13-01", "type": "ACTUAL"},
            r"statusModule\.startDateStruct\.date: '2018-13-01'",
        ),
        ("statusVerifiedDate", "last spring", r"statusModule\.statusVerifiedDate: 'last spring'"),
        ("overallStatus", 3, r"statusModule\.overallStatus is a int"),
        ("completionDateStruct", "2019-02-28", r"statusModule\.completionDateStruct is a str"),
    ],
)
def test_a_malformed_field_is_named(path: str, value: object, message: str) -> None:
    study = load("study_NCT03630471.json")
    status(study)[path] = value
    with pytest.raises(MalformedRecord, match=r"NCT03630471: protocolSection\." + message):
        evaluate(study, as_of=LATE)


def test_a_malformed_flag_is_named() -> None:
    study = load("study_NCT03418623.json")
    oversight(study)["isFdaRegulatedDrug"] = "yes"
    with pytest.raises(MalformedRecord, match=r"oversightModule\.isFdaRegulatedDrug is 'yes'"):
        evaluate(study, as_of=LATE)


def test_not_a_study_record() -> None:
    with pytest.raises(MalformedRecord, match="nctId"):
        evaluate({"studies": []}, as_of=LATE)
