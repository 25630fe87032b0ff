"""The findings checks read a partial decode of stored records: it must answer as the whole record."""

from __future__ import annotations

from datetime import date

import pytest
from trialwatch.findings import evaluate_until
from trialwatch.store.codec import encode_record
from trialwatch.store.findings import findings_view

from .records import AS_OF, dated_states, load, sample_studies, status

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
