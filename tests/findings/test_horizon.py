"""The findings horizon: re-evaluating a record before the day ``evaluate_until`` names gives the same
findings word for word, so a daily sync can skip the records whose findings cannot have moved."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from trialwatch.findings import _span, _span_changes, evaluate, evaluate_until

from .records import AS_OF, dated_states, load, sample_studies, status


def _days_to_check(as_of: date, until: date | None) -> list[date]:
    last = (
        as_of + timedelta(days=900)
        if until is None
        else min(until - timedelta(days=1), as_of + timedelta(900))
    )
    days = [as_of + timedelta(days=n) for n in range(1, 75)]
    days += [as_of + timedelta(days=n) for n in range(75, 901, 7)]
    return [d for d in days if d <= last] + ([last] if last > as_of else [])


@pytest.mark.parametrize(
    "study",
    sample_studies() + dated_states(),
    ids=lambda s: s["protocolSection"]["identificationModule"]["nctId"],
)
def test_findings_do_not_move_before_the_horizon(study: dict[str, Any]) -> None:
    for as_of in AS_OF:
        found, until = evaluate_until(study, as_of=as_of)
        assert until is None or until > as_of
        expected = [f.to_dict() for f in found]
        for day in _days_to_check(as_of, until):
            assert [f.to_dict() for f in evaluate(study, as_of=day)] == expected, (as_of, until, day)


def test_a_horizon_is_the_next_deadline_or_the_next_change_of_wording() -> None:
    study = dated_states()[0]  # RECRUITING, primary completion 2024-01-31, verified 2023-02
    found, until = evaluate_until(study, as_of=date(2024, 1, 10))
    assert found == [] and until == date(2024, 2, 1)  # the completion date passes on 2024-02-01
    found, until = evaluate_until(study, as_of=date(2024, 2, 10))
    assert [f.code for f in found] == ["status_past_completion"]
    assert until == date(2024, 2, 11)  # "passed 10 days ago" says 11 the next day
    found, until = evaluate_until(study, as_of=date(2024, 6, 5))
    assert "passed 4 months ago" in found[0].detail
    # 5 months after 2024-01-31 would be June 31: "4 months" holds through June 30
    assert until == date(2024, 7, 1)


def test_a_completed_record_with_results_never_moves() -> None:
    study = load("study_NCT03418623.json")
    status(study)["resultsFirstSubmitDate"] = "2021-02-01"
    assert evaluate_until(study, as_of=date(2030, 1, 1)) == ([], None)


@pytest.mark.parametrize(
    "earlier", [date(2024, 1, 31), date(2023, 2, 28), date(2024, 2, 29), date(2020, 5, 15)]
)
def test_span_wording_changes_exactly_on_the_day_named(earlier: date) -> None:
    later = earlier + timedelta(days=1)
    while later < earlier + timedelta(days=1200):
        change = _span_changes(later, earlier)
        text = _span(later, earlier)
        day = later + timedelta(days=1)
        while day < change:
            assert _span(day, earlier) == text, (earlier, later, day)
            day += timedelta(days=1)
        assert _span(change, earlier) != text, (earlier, later, change)
        later = change
