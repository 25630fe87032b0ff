"""What ``trialwatch findings`` prints: the json and text forms, and the Finding's dict form."""

from __future__ import annotations

from datetime import date

import pytest
from trialwatch import safejson
from trialwatch.findings import Finding, evaluate, findings_report
from trialwatch.records import MalformedRecord

from .records import load

AS_OF = date(2026, 11, 1)


def test_json_is_a_strict_list_of_finding_objects() -> None:
    study = load("study_NCT04207047.json")  # real: device trial, no results, UNKNOWN since 2019-12
    data = safejson.loads(findings_report(study, AS_OF, "json"))
    assert [item["code"] for item in data] == ["results_overdue", "verification_stale"]
    first = data[0]
    assert set(first) == {
        "code",
        "nct_id",
        "title",
        "detail",
        "category",
        "severity",
        "rule",
        "certainty",
        "evidence",
        "key",
        "url",
    }
    assert first["nct_id"] == "NCT04207047"
    assert first["url"] == "https://clinicaltrials.gov/study/NCT04207047"
    assert first["evidence"]["is_fda_regulated_device"] is True
    assert first["evidence"]["primary_completion_date"] == "2018-10-31"


def test_dict_form_round_trips() -> None:
    for found in evaluate(load("study_NCT06171568.json"), as_of=AS_OF):
        assert Finding.from_dict(found.to_dict()) == found


def test_text_names_the_trial_counts_and_each_finding() -> None:
    text = findings_report(load("study_NCT03418623.json"), AS_OF, "text")
    lines = text.splitlines()
    assert lines[0] == "Findings for NCT03418623 as of 2026-11-01"
    assert lines[1].startswith("Effect of GET73 on MRS Measures")
    assert "1 finding: 1 critical" in lines
    assert "By category: results 1" in lines
    assert "  [CRITICAL] Results overdue (results)" in lines
    assert "    Rule: FDAAA 801 / 42 CFR 11.44 · certainty high" in lines


def test_text_without_findings_says_so() -> None:
    text = findings_report(load("study_NCT00763412.json"), AS_OF, "text")
    assert text.rstrip().endswith("No findings.")
    assert findings_report(load("study_NCT00763412.json"), AS_OF, "json").strip() == "[]"


def test_as_of_moves_the_report() -> None:
    study = load("study_NCT03418623.json")  # results due 2021-03-13
    assert safejson.loads(findings_report(study, date(2021, 3, 1), "json")) == []
    assert len(safejson.loads(findings_report(study, date(2021, 4, 1), "json"))) == 1


def test_shortfall_and_enabled_reach_the_report() -> None:
    study = load("NCT04327037/v3.json")
    report = findings_report(study, date(2026, 10, 1), "json", previous_anticipated=40)
    assert [item["code"] for item in safejson.loads(report)] == ["enrollment_shortfall"]
    report = findings_report(
        study, date(2026, 10, 1), "json", previous_anticipated=40, enabled={"dates_out_of_order"}
    )
    assert safejson.loads(report) == []


def test_an_unknown_format_is_named() -> None:
    with pytest.raises(ValueError, match="'html'"):
        findings_report(load("study_NCT00763412.json"), AS_OF, "html")


def test_a_record_without_an_id_is_refused() -> None:
    with pytest.raises(MalformedRecord, match="nctId"):
        findings_report({"protocolSection": {}}, AS_OF, "text")
