"""The version-pair corpus (pairs.py): expected events per pair, zero events on noise, one screen each."""

from __future__ import annotations

from collections import Counter

import pytest
from trialwatch import records
from trialwatch.diff import diff_studies
from trialwatch.events import ChangeEvent

from .pairs import PAIRS, Pair

MAX_EVENTS = 30  # a version pair reads in one screen


def _summary(events: list[ChangeEvent], counted: Pair) -> Counter[tuple[str, str, int | None]]:
    unchecked = {(c, s) for c, s, n in counted.expected if n is None}
    return Counter(
        (e.category, e.severity, None if (e.category, e.severity) in unchecked else e.count) for e in events
    )


def test_the_corpus_is_big_enough_and_labelled() -> None:
    assert len(PAIRS) >= 40
    assert sum(pair.noise_only for pair in PAIRS) >= 5
    assert {pair.origin for pair in PAIRS} <= {"real", "real-derived"}
    assert len({pair.name for pair in PAIRS}) == len(PAIRS)
    real = [pair for pair in PAIRS if pair.origin == "real"]
    assert len(real) >= 46 and sum(pair.noise_only for pair in real) >= 28  # docs/change-rules.md


@pytest.mark.parametrize("pair", PAIRS, ids=[pair.name for pair in PAIRS])
def test_pair_gives_the_expected_events(pair: Pair) -> None:
    old, new = pair.build()
    assert old != new or pair.origin == "real", f"{pair.name}: the rebuilt pair does not differ"
    events = diff_studies(old, new)
    assert _summary(events, pair) == Counter(pair.expected), [
        (e.category, e.severity, e.count, e.field, e.detail) for e in events
    ]
    assert len(events) <= MAX_EVENTS


@pytest.mark.parametrize(
    "pair", [p for p in PAIRS if p.noise_only], ids=[p.name for p in PAIRS if p.noise_only]
)
def test_noise_pairs_are_silent_both_ways(pair: Pair) -> None:
    old, new = pair.build()
    assert diff_studies(old, new) == []
    assert diff_studies(new, old) == []


def test_a_reencoded_site_is_never_removed_and_added() -> None:
    pair = next(p for p in PAIRS if p.name == "reencoded-plus-site-removed")
    old, new = pair.build()
    removed = [e for e in diff_studies(old, new) if e.path.endswith("locations")]
    assert len(removed) == 1 and removed[0].new is None
    assert removed[0].count == 1


def test_encoding_flips_keep_the_content_hash_where_the_text_can_be_repaired() -> None:
    pair = next(p for p in PAIRS if p.name == "sites-mojibake")
    old, new = pair.build()
    assert records.content_hash(old) == records.content_hash(new)


def test_reopening_aggregates_sites_and_folds_their_contacts() -> None:
    pair = next(p for p in PAIRS if p.name == "reopen-221-sites")
    old, new = pair.build()
    sites = next(e for e in diff_studies(old, new) if e.category == "sites")
    assert (sites.old, sites.new, sites.count) == (None, "RECRUITING", 221)
    assert len(sites.members) == 221 == len(set(sites.members))
    assert sites.detail == "221 sites"
    assert not any(e.path.endswith("locations.contacts") for e in diff_studies(old, new))


def test_time_frames_aggregate_with_old_and_new_values() -> None:
    pair = next(p for p in PAIRS if p.name == "time-frames-59-to-58")
    old, new = pair.build()
    secondary = next(e for e in diff_studies(old, new) if e.severity == "minor")
    assert (secondary.old, secondary.new) == ("Day 1 through 59 months", "Day 1 through 58 months")
    assert secondary.to_dict()["count"] == 21 and len(secondary.to_dict()["members"]) == 21


def test_differing_values_are_listed_per_member() -> None:
    pair = next(p for p in PAIRS if p.name == "postal-codes-added")
    old, new = pair.build()
    (event,) = diff_studies(old, new)
    assert (event.field, event.old, event.new) == ("Site postal code", None, "14 sites")
    assert event.detail == "14 sites with postal code added"
    polish = [
        s for s in new["protocolSection"]["contactsLocationsModule"]["locations"] if s["country"] == "Poland"
    ]
    expected = {f"{s['facility']}, {s['city']}, Poland: — → {s['zip']}" for s in polish}
    assert set(event.members) == expected


def test_sites_with_different_numbers_in_one_city_are_not_a_rename() -> None:
    pair = next(p for p in PAIRS if p.name == "site-swapped-in-one-city")
    old, new = pair.build()
    assert sorted((e.old, e.new) for e in diff_studies(old, new) if e.old is None) == [
        (None, "As0006 415, Kraków, Poland")
    ]


def test_criteria_headings_in_other_words_keep_their_sections() -> None:
    # NCT02679963 heads its lists "For inclusion in the study subjects should fulfill the following
    # criteria:" and "Non-inclusion criteria:" (the French usage for exclusion): 8 inclusion items and
    # 4 non-inclusion items changed between the two downloads.
    pair = next(p for p in PAIRS if p.name.startswith("nct02679963"))
    fields = Counter(e.field for e in diff_studies(*pair.build()) if e.category == "eligibility")
    assert fields == {"Inclusion criteria": 8, "Exclusion criteria": 4}
