"""Criteria parsing, markup normalisation and partial-date arithmetic."""

from __future__ import annotations

import pytest
from trialwatch.diff import date_move
from trialwatch.records import normalize_markup, parse_criteria


def test_parse_criteria_sections_items_and_continuations() -> None:
    text = (
        "Key Inclusion Criteria:\n\n"
        "1. Adults aged 18 to 64\n"
        "   with chronic disease\n"
        "2. Signed consent\n\n"
        "**Exclusion Criteria:**\n\n"
        "* Pregnancy\n"
        "  - nested item\n\n"
        "A free paragraph after a blank line"
    )
    assert parse_criteria(text) == {
        "inclusion": ["Adults aged 18 to 64 with chronic disease", "Signed consent"],
        "exclusion": ["Pregnancy", "nested item", "A free paragraph after a blank line"],
    }


def test_parse_criteria_without_headings() -> None:
    assert parse_criteria("Eligibility criteria:\n\n* Students in grades 9-12\n* Consent") == {
        "criteria": ["Students in grades 9-12", "Consent"]
    }


@pytest.mark.parametrize(
    "variant",
    [
        "* Age \\>18 years\n* **No** prior therapy",
        "- Age >18 years\n-   No prior  therapy  ",
        "1. Age >18 years\r\n2) _No_ prior therapy",
        "  +  Age >18 years\n\n+ No prior therapy\n",
    ],
)
def test_markup_variants_normalise_alike(variant: str) -> None:
    assert normalize_markup(variant) == "- Age >18 years - No prior therapy"


def test_snake_case_words_keep_their_underscores() -> None:
    assert (
        normalize_markup("uses ACTIVE_NOT_RECRUITING and _emphasis_")
        == "uses ACTIVE_NOT_RECRUITING and emphasis"
    )


@pytest.mark.parametrize(
    ("old", "new", "days", "text"),
    [
        ("2025-01-01", "2025-01-02", 1, "slipped 1 day"),
        ("2025-05-01", "2025-01-01", -120, "moved 120 days earlier"),
        ("2025", "2025-06-15", None, "same period, stated more precisely"),
        ("2025-06-15", "2025", None, "same period, stated less precisely"),
        ("2025-06", "2025-08-15", 61, "slipped 61 days (compared by month)"),
        ("2024", "2026-02", 731, "slipped 731 days (compared by year)"),
        ("2025-6", "2025-06", None, "same date"),
        ("June 2025", "2025-06", 0, "date not comparable"),
    ],
)
def test_date_move(old: str, new: str, days: int | None, text: str) -> None:
    assert date_move(old, new) == (days, text)
