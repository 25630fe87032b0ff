"""The findings checks read a partial decode of stored records: it must answer as the whole record."""

from __future__ import annotations

from datetime import date

import pytest
from trialwatch.findings import evaluate_until
from trialwatch.store.codec import encode_record
from trialwatch.store.findings import findings_view

from .records import AS_OF, dated_states, design, load, sample_studies, status

STUDIES = sample_studies() + dated_states()


@pytest.mark.parametrize(
    "study", STUDIES, ids=lambda s: s["protocolSection"]["identificationModule"]["nctId"]
)
def test_the_view_gives_the_whole_records_findings(study: dict) -> None:
    view = findings_view(encode_record(study))
    assert "descriptionModule" not in view["protocolSection"]  # the point: less is decoded
    for as_of in AS_OF + [date(2026, 11, 29)]:
        assert evaluate_until(view, as_of=as_of) == evaluate_until(study, as_of=as_of)


def test_results_count_only_for_being_there() -> None:
    with_results = load("study_NCT02210780.json")
    assert with_results.get("resultsSection")
    assert findings_view(encode_record(with_results))["resultsSection"]
    empty = load("study_NCT03418623.json") | {"resultsSection": {}}
    assert "resultsSection" not in findings_view(encode_record(empty))


def test_an_odd_shape_is_read_whole_so_the_check_names_it() -> None:
    study = load("study_NCT03418623.json")
    status(study)["overallStatus"] = "COMPLETED"
    study["protocolSection"]["designModule"] = ["not", "an", "object"]
    assert findings_view(encode_record(study)) == study


def _odd(edit) -> dict:  # type: ignore[no-untyped-def]
    study = load("study_NCT03418623.json")
    edit(study["protocolSection"])
    return study


@pytest.mark.parametrize(
    "study",
    [
        _odd(lambda p: p["identificationModule"].pop("nctId")),
        _odd(lambda p: p["identificationModule"].update(nctId=42)),
        _odd(lambda p: p.update(armsInterventionsModule={"interventions": "DEVICE"})),
        _odd(lambda p: p.update(armsInterventionsModule={"interventions": ["DEVICE", {"type": 7}]})),
        _odd(lambda p: p.update(armsInterventionsModule={"interventions": [{"name": "x"}]})),
        _odd(lambda p: p.update(contactsLocationsModule={"locations": [None, {"country": "United States"}]})),
        _odd(lambda p: p.update(contactsLocationsModule={"locations": {"country": "United States"}})),
        _odd(lambda p: p.update(contactsLocationsModule={"locations": []})),
        _odd(lambda p: p.update(contactsLocationsModule={})),
    ],
)
def test_the_modules_read_in_part_answer_as_whole_whatever_their_shape(study: dict) -> None:
    status(study).update(overallStatus="COMPLETED")  # results due, and no FDA flags: applicability
    design(study).update(studyType="INTERVENTIONAL", phases=["PHASE3"])  # reads these modules
    design(study).pop("designInfo", None)
    study["protocolSection"]["oversightModule"] = {}
    status(study)["primaryCompletionDateStruct"] = {"date": "2019-05-01", "type": "ACTUAL"}
    study.pop("resultsSection", None)
    study.pop("hasResults", None)
    view = findings_view(encode_record(study))
    for as_of in AS_OF + [date(2026, 11, 29)]:
        try:
            whole = evaluate_until(study, as_of=as_of)
        except ValueError as exc:
            with pytest.raises(ValueError) as raised:
                evaluate_until(view, as_of=as_of)
            assert str(raised.value) == str(exc)
        else:
            assert evaluate_until(view, as_of=as_of) == whole


def test_only_the_read_fields_of_interventions_and_sites_are_kept() -> None:
    study = load("study_NCT03418623.json")
    protocol = study["protocolSection"]
    protocol["armsInterventionsModule"] = {
        "armGroups": [{"label": "A"}],
        "interventions": [{"type": "DRUG", "name": "x"}, {"name": "y"}],
    }
    protocol["contactsLocationsModule"] = {"locations": [{"facility": "f", "country": "France"}]}
    view = findings_view(encode_record(study))["protocolSection"]
    assert view["armsInterventionsModule"] == {"interventions": [{"type": "DRUG"}, {"type": None}]}
    assert view["contactsLocationsModule"] == {"locations": [{"country": "France"}]}
    assert view["identificationModule"] == {"nctId": "NCT03418623"}


def test_a_us_site_and_a_device_are_read_from_the_view() -> None:
    study = load("study_NCT03418623.json")
    status(study).update(overallStatus="COMPLETED")
    status(study)["primaryCompletionDateStruct"] = {"date": "2019-05-01", "type": "ACTUAL"}
    design(study).update(studyType="INTERVENTIONAL", phases=["NA"])
    design(study).pop("designInfo", None)
    study["protocolSection"]["oversightModule"] = {}
    study["protocolSection"]["armsInterventionsModule"] = {"interventions": [{"type": "DEVICE"}]}
    study["protocolSection"]["contactsLocationsModule"] = {"locations": [{"country": "United States"}]}
    for key in ("resultsSection", "hasResults", "annotationSection"):
        study.pop(key, None)
    status(study).pop("resultsFirstSubmitDate", None)
    status(study).pop("dispFirstSubmitDate", None)
    view = findings_view(encode_record(study))
    (overdue,) = [f for f in evaluate_until(view, as_of=date(2024, 1, 1))[0] if f.code == "results_overdue"]
    assert overdue.certainty == "medium"  # a device study with a US site, no FDA flags
    assert "interventional device study with a US site" in overdue.detail
