"""Registry dates: the period a partial date stands for, and month arithmetic for deadlines."""

from __future__ import annotations

from datetime import date

import pytest
from trialwatch.findings import add_months, evaluate, parse_registry_date
from trialwatch.records import MalformedRecord

from .records import load, status


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2020-03-13", date(2020, 3, 13), date(2020, 3, 13)),
        ("2020-02", date(2020, 2, 1), date(2020, 2, 29)),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("2016", date(2016, 1, 1), date(2016, 12, 31)),
    ],
)
def test_a_date_stands_for_the_period_it_names(text: str, first: date, last: date) -> None:
    parsed = parse_registry_date(text, "here")
    assert (parsed.text, parsed.first, parsed.last) == (text, first, last)


@pytest.mark.parametrize(
    "text", ["2023-2", "20230101", "2023-02-30", "2023-00", "March 2023", "", 2023, None]
)
def test_anything_else_is_refused_with_its_place(text: object) -> None:
    with pytest.raises(MalformedRecord, match=r"^somewhere: .* is not a registry date"):
        parse_registry_date(text, "somewhere")


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2020, 3, 13), 12, date(2021, 3, 13)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2023, 12, 31), 24, date(2025, 12, 31)),
        (date(2024, 11, 30), 1, date(2024, 12, 30)),
    ],
)
def test_add_months_clamps_to_the_months_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_a_year_only_primary_completion_is_due_a_year_after_its_last_day() -> None:
    study = load("study_NCT03418623.json")  # real record; only the date's precision changed
    status(study)["primaryCompletionDateStruct"]["date"] = "2020"
    assert evaluate(study, as_of=date(2021, 12, 31)) == []
    [finding] = evaluate(study, as_of=date(2022, 1, 1))
    assert finding.evidence["results_due"] == "2021-12-31"
