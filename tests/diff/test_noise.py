"""Noise never alerts: bookkeeping, list order and text formatting give no event and no new hash."""

from __future__ import annotations

import pytest
from trialwatch import records
from trialwatch.cli.diff import load_study
from trialwatch.diff import DIFF_STATS, diff_if_changed, diff_studies

from .samples import SAMPLES, all_studies, bump_bookkeeping, load, reformat_texts, shuffle_unordered

STUDIES = all_studies()
IDS = [label for label, _ in STUDIES]


def test_the_corpus_covers_every_sample_file() -> None:
    assert len(STUDIES) >= 30
    assert any(study.get("resultsSection") for _, study in STUDIES)


def test_real_version_pair_of_nct02552212_is_no_change() -> None:
    old = load("study_NCT02552212__vh2023-12-12.json")
    new = load("study_NCT02552212__vh2024-01-03.json")
    assert old != new  # the files really differ (derivedSection)
    assert diff_studies(old, new) == []
    assert records.content_hash(old) == records.content_hash(new)


def test_same_study_in_both_response_shapes_hashes_alike() -> None:
    single = load_study(SAMPLES / "study_NCT00184067.json")
    from_page = load("page_NCT00184067_NCT03934567_with_token.json")
    assert records.content_hash(single) == records.content_hash(from_page)


@pytest.mark.parametrize(
    "mutate", [bump_bookkeeping, shuffle_unordered, reformat_texts], ids=["bookkeeping", "shuffle", "texts"]
)
@pytest.mark.parametrize(("label", "study"), STUDIES, ids=IDS)
def test_noise_mutation_gives_no_event_and_same_hash(label: str, study: dict, mutate) -> None:  # type: ignore[no-untyped-def]
    mutated = mutate(study)
    assert diff_studies(study, mutated) == [], label
    assert records.content_hash(mutated) == records.content_hash(study), label


@pytest.mark.parametrize(("label", "study"), STUDIES, ids=IDS)
def test_all_noise_at_once_costs_a_hash_not_a_diff(label: str, study: dict) -> None:
    mutated = reformat_texts(shuffle_unordered(bump_bookkeeping(study), seed=11))
    runs_before, deep_before = DIFF_STATS.diff_runs, DIFF_STATS.deepdiff_calls
    new_hash, events = diff_if_changed(study, records.content_hash(study), mutated)
    assert events is None
    assert new_hash == records.content_hash(study)
    assert (DIFF_STATS.diff_runs, DIFF_STATS.deepdiff_calls) == (runs_before, deep_before)


def test_mutations_really_mutate() -> None:
    """Guard against a vacuous corpus: each mutation changes the raw record of a rich sample."""
    study = load("study_NCT02210780.json")
    for mutate in (bump_bookkeeping, shuffle_unordered, reformat_texts):
        assert mutate(study) != study, mutate.__name__


def test_noise_paths_are_left_out_of_strip_noise_copy() -> None:
    study = load("study_NCT03475563.json")
    clean = records.strip_noise(study)
    assert "derivedSection" not in clean
    assert "statusVerifiedDate" not in clean["protocolSection"]["statusModule"]
    assert all(
        "geoPoint" not in site for site in clean["protocolSection"]["contactsLocationsModule"]["locations"]
    )
    assert "derivedSection" in study  # the input is left alone
