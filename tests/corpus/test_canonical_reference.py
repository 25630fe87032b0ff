"""The fast canonical form gives exactly the plain walk's output (canonical_reference.py).

Compared as JSON text in key order, so key order, list order and value types (1, 1.0, true) all
count, not just ``==``; and through the content hash, which stored versions rely on.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from trialwatch import records

from tests.diff.samples import all_studies, shuffle_unordered

from . import canonical_reference
from .pairs import PAIRS


def restyled(study: dict[str, Any]) -> dict[str, Any]:
    """Texts with doubled spaces, CRLF line ends and an emphasised first word: the memo tables' keys differ."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str) and " " in value:
            return "**" + value.replace(" ", "  ", 1).replace("\n", "\r\n") + "**"
        return value

    return walk(study)


def _exact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _assert_equal_text(actual: str, expected: str) -> None:
    """Equal, or a failure showing where they part (pytest's own diff of 100 KB texts takes minutes)."""
    if actual != expected:
        at = next((i for i, (a, e) in enumerate(zip(actual, expected, strict=False)) if a != e), None)
        at = min(len(actual), len(expected)) if at is None else at
        pytest.fail(
            f"differs at {at}: {actual[max(0, at - 80) : at + 80]!r} != {expected[max(0, at - 80) : at + 80]!r}"
        )


def _assert_same(study: dict[str, Any]) -> None:
    expected = canonical_reference.canonical_form(copy.deepcopy(study))
    records.clear_caches()
    cold = records.canonical_form(study)
    warm = records.canonical_form(study)  # every text now from the memo tables
    _assert_equal_text(_exact(cold), _exact(expected))
    _assert_equal_text(_exact(warm), _exact(expected))
    assert records.hash_canonical(cold) == records.hash_canonical(expected)


@pytest.mark.parametrize("label,study", all_studies(), ids=[label for label, _ in all_studies()])
def test_every_sample_as_served_reshuffled_and_restyled(label: str, study: dict[str, Any]) -> None:
    for variant in (study, shuffle_unordered(study), restyled(study)):
        _assert_same(variant)


@pytest.mark.parametrize("pair", PAIRS, ids=[pair.name for pair in PAIRS])
def test_every_corpus_pair_both_sides(pair: Any) -> None:
    old, new = pair.build()
    _assert_same(old)
    _assert_same(new)


def test_items_with_the_same_identity_sort_by_their_whole_content() -> None:
    # Two sites at one facility (identity: facility, city, country) differing in status and zip, and
    # two collaborators named alike up to case and spacing: their order comes from the full JSON.
    site = {"facility": "Hôpital Nord", "city": "Lyon", "country": "France"}
    sites = [
        {**site, "status": "RECRUITING", "zip": "69002"},
        {"facility": "Clinique Sud", "city": "Lyon", "country": "France"},
        {**site, "status": "COMPLETED", "zip": "69001"},
        {**site, "facility": "hôpital  NORD", "status": "ACTIVE_NOT_RECRUITING"},
    ]
    collaborators = [{"name": "Acme  Pharma", "class": "INDUSTRY"}, {"name": "acme pharma", "class": "OTHER"}]
    study = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT01234567"},
            "sponsorCollaboratorsModule": {"collaborators": collaborators},
            "contactsLocationsModule": {"locations": sites},
            "conditionsModule": {"conditions": ["b", "A", "a", "B "]},
        }
    }
    for variant in (study, shuffle_unordered(study, seed=3), shuffle_unordered(study, seed=11)):
        _assert_same(variant)
    canonical = records.canonical_form(study)
    statuses = [s.get("status") for s in canonical["protocolSection"]["contactsLocationsModule"]["locations"]]
    # By identity first: "clinique sud" before "hôpital nord"; the three tied sites by their JSON text,
    # which starts with "city", "country", "facility" in sorted-key order and differs first at facility
    # ("Hôpital Nord" < "hôpital  NORD"), then at status ("COMPLETED" < "RECRUITING").
    assert statuses == [None, "COMPLETED", "RECRUITING", "ACTIVE_NOT_RECRUITING"]


def test_values_of_other_types_and_empty_structures_follow_the_plain_rules() -> None:
    study = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT01234567", "acronym": "", "orgStudyIdInfo": {}},
            "designModule": {
                "enrollmentInfo": {"count": 0, "type": None},
                "phases": [],
                "bioSpec": {"x": None},
            },
            "statusModule": {"expandedAccessInfo": {"hasExpandedAccess": False}, "resultsWaived": False},
            "eligibilityModule": {"eligibilityCriteria": "   \n  ", "minimumAge": "  18 Years "},
            "outcomesModule": {"primaryOutcomes": [{}, None, {"measure": "OS", "timeFrame": 1.5}]},
        },
        "hasResults": True,
    }
    _assert_same(study)
    canonical = records.canonical_form(study)
    protocol = canonical["protocolSection"]
    assert protocol["identificationModule"] == {"nctId": "NCT01234567", "acronym": ""}
    assert protocol["designModule"] == {"enrollmentInfo": {"count": 0}}
    assert protocol["statusModule"] == {"resultsWaived": False}
    assert protocol["eligibilityModule"] == {"minimumAge": "18 Years"}
    assert canonical["hasResults"] is True


def test_memoised_texts_are_not_shared_between_canonical_forms() -> None:
    study = next(s for _, s in all_studies() if s["protocolSection"].get("eligibilityModule"))
    first = records.canonical_form(study)
    criteria = first["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    for items in criteria.values():
        items.append("changed by a caller")
    second = records.canonical_form(study)
    assert all(
        "changed by a caller" not in items
        for items in second["protocolSection"]["eligibilityModule"]["eligibilityCriteria"].values()
    )


def _markup_texts() -> list[str]:
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and ("\n" in value or len(value) > 80):
            texts.append(value)

    for _, study in all_studies():
        walk(study)
    return texts


EDGE_TEXTS = [
    "",
    "- a",
    "\n- a",
    "  * one\n  * two\r\n\t3. three\n\n(iv) four\n5) five",
    "a\n\n\n- b\n-c\n- \n",
    "*bold* and __under__ and snake_case and \\*escaped\\* and \\\\ and \\_x\\_",
    "• bullet\n▪ square\n◦ ring\n· dot",
    "x.\n12. twelve\n1234. not a marker\nab. not one either",
    "line\r\n- after CR LF\r- after CR alone",
]


def test_normalize_markup_matches_the_plain_regexes_on_every_long_text_and_each_line() -> None:
    texts = _markup_texts() + EDGE_TEXTS
    assert sum("\n" in text for text in texts) > 20  # multi-line texts exercise the line-start rule
    for text in texts:
        for variant in (text, restyled({"t": text})["t"], *text.splitlines()):
            _assert_equal_text(
                records.normalize_markup(variant), canonical_reference.normalize_markup(variant)
            )
