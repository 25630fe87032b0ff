"""The sync's batch gate: stored hashes read per batch, the quick hash, and its invariant."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from trialwatch import records, settings
from trialwatch.pipeline import BatchSummary, run_sync, sync_batch
from trialwatch.registry.client import CtgovClient, FetchResult
from trialwatch.replay.server import ReplayServer
from trialwatch.store import Store
from trialwatch.store import repository as repo
from trialwatch.store.models import ChangeEventRow, Study, StudyVersion
from trialwatch.watchlists import Watchlist

SAMPLES = settings.PACKAGE_DIR / "replay" / "data" / "samples"


def _sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def test_quick_hash_ignores_build_bookkeeping_and_sees_edits() -> None:
    # The two files of NCT02552212 differ only in derivedSection (versionHolder).
    old = _sample("study_NCT02552212__vh2023-12-12.json")
    new = _sample("study_NCT02552212__vh2024-01-03.json")
    assert old["derivedSection"] != new["derivedSection"]
    assert records.quick_hash(old) == records.quick_hash(new)
    assert records.content_hash(old) == records.content_hash(new)

    # It reads protocolSection whole: a repost with only its bookkeeping dates moved misses the fast
    # path, and the canonical form then finds the content unchanged.
    reposted = copy.deepcopy(old)
    reposted["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2030-01-01"}
    assert records.quick_hash(reposted) != records.quick_hash(old)
    assert records.content_hash(reposted) == records.content_hash(old)

    edited = copy.deepcopy(old)
    edited["protocolSection"]["statusModule"]["overallStatus"] = "WITHDRAWN"
    assert records.quick_hash(edited) != records.quick_hash(old)


def test_a_stored_record_served_with_only_build_noise_changed_skips_the_canonical_form(
    store: Store, replay: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)
    watchlist = Watchlist(name="t", path=tmp_path / "t.yaml", title="test", nct_ids=("NCT02552212",))
    run_sync(store, client, [watchlist], use_history=False)
    with store.session() as session:
        study = session.get(Study, "NCT02552212")
        assert study is not None and study.quick_hash is not None
    replay.set_day(2)  # derivedSection only

    calls: list[str] = []
    original = records.canonical_form

    def counting(study: dict[str, Any]) -> dict[str, Any]:
        calls.append(records.nct_id_of(study))
        return original(study)

    monkeypatch.setattr(records, "canonical_form", counting)
    # Build noise does not move LastUpdatePostDate: only a reconciliation fetches the record again.
    summary = run_sync(store, client, [watchlist], use_history=False, reconcile=True)
    assert (summary.unchanged, summary.versions, calls) == (1, 0, [])


def test_a_new_current_version_replaces_the_quick_hash_and_a_stale_mark_keeps_nothing(store: Store) -> None:
    first = _sample("study_NCT00184067.json")
    second = copy.deepcopy(first)
    second["protocolSection"]["statusModule"]["overallStatus"] = "WITHDRAWN"
    first_hash, second_hash = records.content_hash(first), records.content_hash(second)
    nct_id = records.nct_id_of(first)

    def stored() -> tuple[str | None, str | None]:
        with store.session() as session:
            row = session.scalars(select(Study).where(Study.nct_id == nct_id)).one()
            return row.current_hash, row.quick_hash

    with store.session() as session:
        repo.store_versions(session, nct_id, [repo.NewVersion(first, first_hash, [])], data_timestamp=None)
    with store.session() as session:
        repo.mark_unchanged(session, {nct_id: (first_hash, records.quick_hash(first))})
    assert stored() == (first_hash, records.quick_hash(first))

    with store.session() as session:
        repo.store_versions(session, nct_id, [repo.NewVersion(second, second_hash, [])], data_timestamp=None)
    # Served the first record again, it must be compared, not waved through by an old quick hash.
    assert stored() == (second_hash, None)
    with store.session() as session:
        assert repo.current_hashes(session, [nct_id, "NCT99999999"]) == {nct_id: (second_hash, None)}
        # A mark made against a content hash that is no longer current changes nothing.
        repo.mark_unchanged(session, {nct_id: (first_hash, records.quick_hash(first))})
    assert stored() == (second_hash, None)


class _Served:
    """A registry stand-in that serves the given records (the batch gate needs only fetch_studies)."""

    def __init__(self, *studies: dict[str, Any]) -> None:
        self.studies = {records.nct_id_of(study): study for study in studies}

    def fetch_studies(self, nct_ids: list[str]) -> FetchResult:
        return FetchResult(studies={n: copy.deepcopy(self.studies[n]) for n in nct_ids})


def _sync(store: Store, *studies: dict[str, Any]) -> BatchSummary:
    served = _Served(*studies)
    return sync_batch(
        store,
        served,
        list(served.studies),
        run_id=0,
        data_timestamp=None,
        use_history=False,  # type: ignore[arg-type]
    )


def _version_hashes(store: Store, nct_id: str) -> list[str]:
    with store.session() as session:
        return list(
            session.scalars(
                select(StudyVersion.content_hash)
                .where(StudyVersion.nct_id == nct_id)
                .order_by(StudyVersion.id)
            )
        )


def test_a_new_trial_is_stored_without_its_canonical_form_until_a_fetch_differs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _sample("study_NCT00184067.json")
    nct_id = records.nct_id_of(first)
    calls: list[str] = []
    original = records.canonical_form
    monkeypatch.setattr(records, "canonical_form", lambda s: calls.append("canon") or original(s))
    summary = _sync(store, first)
    assert (summary.new_trials, summary.versions, calls) == (1, 1, [])
    [pending] = _version_hashes(store, nct_id)
    assert repo.is_pending(pending)

    # Re-geocoded sites: a new quick hash, the same content. Nothing is stored; the hash becomes real.
    regeocoded = copy.deepcopy(first)
    for site in regeocoded["protocolSection"]["contactsLocationsModule"]["locations"]:
        site["geoPoint"] = {"lat": 1.5, "lon": 2.5}
    assert records.quick_hash(regeocoded) != records.quick_hash(first)
    summary = _sync(store, regeocoded)
    assert (summary.unchanged, summary.versions) == (1, 0)
    assert _version_hashes(store, nct_id) == [records.content_hash(first)]
    with store.session() as session:
        assert repo.current_hashes(session, [nct_id]) == {
            nct_id: (records.content_hash(first), records.quick_hash(regeocoded))
        }

    # A real edit is diffed against the stored version, with both real hashes on its event.
    edited = copy.deepcopy(regeocoded)
    edited["protocolSection"]["statusModule"]["overallStatus"] = "WITHDRAWN"
    summary = _sync(store, edited)
    assert (summary.versions, summary.changed) == (1, [nct_id])
    assert _version_hashes(store, nct_id) == [records.content_hash(first), records.content_hash(edited)]
    with store.session() as session:
        [event] = session.scalars(select(ChangeEventRow).where(ChangeEventRow.nct_id == nct_id)).all()
    assert (event.field, event.new, event.old_hash, event.new_hash) == (
        "Overall status",
        "WITHDRAWN",
        records.content_hash(first),
        records.content_hash(edited),
    )


def test_a_changed_trial_whose_stored_hash_is_pending_is_diffed_against_it(store: Store) -> None:
    first = _sample("study_NCT00184067.json")
    other = _sample("study_NCT03418623.json")
    _sync(store, first, other)
    edited = copy.deepcopy(first)
    edited["protocolSection"]["statusModule"]["overallStatus"] = "WITHDRAWN"
    summary = _sync(store, edited, other)
    assert (summary.unchanged, summary.versions, summary.events, summary.changed) == (
        1,
        1,
        1,
        [records.nct_id_of(first)],
    )


def test_a_batch_that_breaks_a_unique_key_is_stored_trial_by_trial(store: Store) -> None:
    """Another sync stored one of the batch's new trials first: the rest are still stored once."""
    first = _sample("study_NCT00184067.json")
    other = _sample("study_NCT03418623.json")
    _sync(store, first)
    real_state = repo.gate_state
    try:
        repo.gate_state = lambda session, ids: {}  # type: ignore[assignment]  # read before the other committed
        summary = _sync(store, first, other)
    finally:
        repo.gate_state = real_state  # type: ignore[assignment]
    assert (summary.fetched, summary.unchanged, summary.versions, summary.new_trials) == (2, 1, 1, 1)
    assert len(_version_hashes(store, records.nct_id_of(first))) == 1
    assert len(_version_hashes(store, records.nct_id_of(other))) == 1


def test_a_batch_is_gated_and_written_a_part_at_a_time(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of two: five real trials, then a day where two of them changed and one did not exist."""
    from trialwatch import pipeline

    monkeypatch.setattr(pipeline, "GATE_PART", 2)
    names = ["study_NCT00184067.json", "study_NCT03418623.json", "study_NCT00763412.json"]
    names += ["study_NCT00973089.json", "study_NCT02210780.json"]
    studies = [_sample(name) for name in names]
    parts: list[int] = []
    real_state = repo.gate_state
    monkeypatch.setattr(
        repo, "gate_state", lambda session, ids: parts.append(len(ids)) or real_state(session, ids)
    )
    summary = _sync(store, *studies[:4])
    assert parts == [2, 2] and (summary.new_trials, summary.versions) == (4, 4)

    parts.clear()
    edited = copy.deepcopy(studies)
    for study in (edited[1], edited[3]):
        study["protocolSection"]["statusModule"]["overallStatus"] = "SUSPENDED"
    summary = _sync(store, *edited)
    assert parts == [2, 2, 1]
    assert (summary.fetched, summary.unchanged, summary.new_trials, summary.versions) == (5, 2, 1, 3)
    assert sorted(summary.changed) == sorted(records.nct_id_of(edited[i]) for i in (1, 3))
    with store.session() as session:
        events = session.scalars(select(ChangeEventRow).where(ChangeEventRow.backfill.is_(False))).all()
    assert sorted((e.nct_id, e.new) for e in events) == sorted(
        (records.nct_id_of(edited[i]), "SUSPENDED") for i in (1, 3)
    )
