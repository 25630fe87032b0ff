"""The sync's batch gate: stored hashes read per batch, the quick hash, and its invariant."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from trialwatch import records, settings
from trialwatch.pipeline import run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayServer
from trialwatch.store import Store
from trialwatch.store import repository as repo
from trialwatch.store.models import Study
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

    reposted = copy.deepcopy(old)
    reposted["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2030-01-01"}
    assert records.quick_hash(reposted) == records.quick_hash(old)

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
