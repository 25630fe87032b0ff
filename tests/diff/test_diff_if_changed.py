"""An unchanged record costs a hash, never a comparison."""

from __future__ import annotations

import copy

from trialwatch import records
from trialwatch.diff import DIFF_STATS, diff_if_changed, diff_studies

from .samples import bump_bookkeeping, facts, load, protocol


def test_unchanged_record_returns_none_without_diffing() -> None:
    study = load("study_NCT02210780.json")
    stored_hash = records.content_hash(study)
    runs, deep, hashed = DIFF_STATS.diff_runs, DIFF_STATS.deepdiff_calls, DIFF_STATS.hash_only
    for _ in range(5):
        assert diff_if_changed(study, stored_hash, bump_bookkeeping(study)) == (stored_hash, None)
    assert (DIFF_STATS.diff_runs, DIFF_STATS.deepdiff_calls) == (runs, deep)
    assert DIFF_STATS.hash_only == hashed + 5


def test_first_version_has_nothing_to_compare() -> None:
    study = load("study_NCT03418623.json")
    assert diff_if_changed(None, None, study) == (records.content_hash(study), [])


def test_changed_record_gives_the_same_events_as_diff_studies() -> None:
    old = load("study_NCT06171568.json")
    new = copy.deepcopy(old)
    protocol(new)["statusModule"]["overallStatus"] = "RECRUITING"
    new_hash, events = diff_if_changed(old, records.content_hash(old), new, new_version=3)
    assert new_hash == records.content_hash(new) != records.content_hash(old)
    assert events is not None
    assert facts(events) == facts(diff_studies(old, new))
    assert facts(events) == [("status", "Overall status", "NOT_YET_RECRUITING", "RECRUITING", "minor", "")]
    assert events[0].new_version == 3


def test_stale_stored_hash_with_equal_content_is_still_unchanged() -> None:
    study = load("study_NCT03418623.json")
    assert diff_if_changed(study, "hash-of-an-older-canonical-form", study) == (
        records.content_hash(study),
        None,
    )
