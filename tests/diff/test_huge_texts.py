"""The diff's budget for texts too long to compare item by item or word by word."""

from __future__ import annotations

import copy
import hashlib

import pytest
from trialwatch import records
from trialwatch.diff import MAX_SIMILARITY_PAIRS, diff_studies, text_change_size

from .samples import load, protocol

FILLER = "Adults with measurable disease. "


def with_texts(criteria: str | None = None, description: str | None = None) -> dict:
    study = copy.deepcopy(load("study_NCT00184067.json"))
    if criteria is not None:
        protocol(study)["eligibilityModule"]["eligibilityCriteria"] = criteria
    if description is not None:
        protocol(study)["descriptionModule"]["detailedDescription"] = description
    return study


def long_text(chars: int) -> str:
    return (FILLER * (chars // len(FILLER) + 1))[:chars].strip()


@pytest.mark.parametrize(
    ("old", "new", "added", "removed"),
    [
        ("abcdef", "abXYZef", 3, 2),
        ("abc", "abc", 0, 0),
        ("", "abc", 3, 0),
        ("abc", "", 0, 3),
        ("aaa", "aaaa", 1, 0),  # the common start and end may not overlap
        ("start middle end", "start end", 0, 7),
        ("xa", "ya", 1, 1),
    ],
)
def test_text_change_size_cuts_the_common_start_and_end(old: str, new: str, added: int, removed: int) -> None:
    assert text_change_size(old, new) == (added, removed)


def test_a_huge_criteria_text_gives_one_event_with_its_size_change() -> None:
    base = long_text(records.HUGE_TEXT_CHARS * 3)
    cut = len(base) // 2
    # 40 characters of the middle replaced by 100 of something else.
    new_text = base[:cut] + "Q" * 100 + base[cut + 40 :]
    events = diff_studies(with_texts(criteria=base), with_texts(criteria=new_text))
    assert len(events) == 1
    event = events[0]
    assert (event.category, event.field, event.path) == (
        "eligibility",
        "Eligibility criteria",
        records.CRITERIA_PATH,
    )
    assert "eligibility criteria text changed: +100/−40 characters" in event.detail
    assert event.extra["added_chars"] == 100 and event.extra["removed_chars"] == 40
    assert event.extra["old_chars"] == len(base) and event.extra["new_chars"] == len(new_text)
    assert event.extra["new_sha256"] == hashlib.sha256(new_text.encode()).hexdigest()
    assert event.old == f"{len(base):,} characters (sha256 {event.extra['old_sha256'][:12]})"
    assert len(str(event.old)) < 100 and len(str(event.new)) < 100  # never the text itself


def test_a_criteria_text_just_under_the_limit_is_still_compared_item_by_item() -> None:
    items = [f"* Criterion number {i} about organ function" for i in range(800)]
    text = "Inclusion Criteria:\n" + "\n".join(items)
    while len(text) > records.HUGE_TEXT_CHARS:
        items.pop()
        text = "Inclusion Criteria:\n" + "\n".join(items)
    changed = text.replace("Criterion number 7 about", "Criterion number 7 regarding")
    events = diff_studies(with_texts(criteria=text), with_texts(criteria=changed))
    assert [(e.field, e.detail) for e in events] == [("Inclusion criteria", "criterion changed")]
    assert events[0].old == "Criterion number 7 about organ function"


def test_a_criteria_text_growing_past_the_limit_compares_against_its_items() -> None:
    small = "Inclusion Criteria:\n* Adults\n* Measurable disease"
    huge = long_text(records.HUGE_TEXT_CHARS + 10)
    events = diff_studies(with_texts(criteria=small), with_texts(criteria=huge))
    assert len(events) == 1
    # The old side is its items, one per line: "Adults\nMeasurable disease".
    assert events[0].extra["old_chars"] == len("Adults\nMeasurable disease")
    assert events[0].extra["new_chars"] == len(huge)


def test_a_huge_description_is_summarised_the_same_way() -> None:
    base = long_text(records.HUGE_TEXT_CHARS + 500)
    events = diff_studies(with_texts(description=base), with_texts(description=base + " One more sentence."))
    assert [(e.field, e.extra["added_chars"], e.extra["removed_chars"]) for e in events] == [
        ("Detailed description", len(" One more sentence."), 0)
    ]
    assert "detailed description text changed: +19/−0 characters" in events[0].detail


def test_whitespace_only_changes_in_a_huge_text_are_no_change() -> None:
    base = long_text(records.HUGE_TEXT_CHARS + 500)
    assert diff_studies(with_texts(criteria=base), with_texts(criteria=base.replace(". ", ".\n  "))) == []


def _criteria(items: list[str]) -> str:
    return "Inclusion Criteria:\n" + "\n".join(f"* {item}" for item in items)


def test_similar_items_are_paired_within_the_pairing_budget() -> None:
    side = int(MAX_SIMILARITY_PAIRS**0.5)  # 20 removed x 20 added
    old = [f"Patient {i} must be at least {i} years old at screening" for i in range(side)]
    new = [f"Patient {i} must be at least {i} years of age at screening" for i in range(side)]
    events = diff_studies(with_texts(criteria=_criteria(old)), with_texts(criteria=_criteria(new)))
    assert {e.detail for e in events} == {"criterion changed"}
    assert len(events) == side


def test_past_the_pairing_budget_items_are_reported_as_removed_and_added() -> None:
    side = int(MAX_SIMILARITY_PAIRS**0.5) + 1  # 21 x 21 pairs is over the budget
    old = [f"Patient {i} must be at least {i} years old at screening" for i in range(side)]
    new = [f"Patient {i} must be at least {i} years of age at screening" for i in range(side)]
    events = diff_studies(with_texts(criteria=_criteria(old)), with_texts(criteria=_criteria(new)))
    details = sorted(e.detail for e in events)
    assert details == ["criterion added"] * side + ["criterion removed"] * side
