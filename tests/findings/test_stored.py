"""Findings stored by the sync: opened once, refreshed while open, resolved once, per run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from trialwatch.pipeline import run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayRegistry, ReplayServer
from trialwatch.store import Store
from trialwatch.store import findings as stored
from trialwatch.store.models import FindingRow, Study, StudyVersion, SyncRun
from trialwatch.watchlists import Watchlist

from .replay_days import write_timeline


@pytest.fixture
def days(tmp_path: Path) -> Iterator[ReplayServer]:
    with ReplayServer(ReplayRegistry(write_timeline(tmp_path / "replay")), day=1) as server:
        yield server


def _watchlist(tmp_path: Path) -> Watchlist:
    return Watchlist(name="t", path=tmp_path / "t.yaml", title="t", nct_ids=("NCT03418623", "NCT04327037"))


def _rows(store: Store) -> list[FindingRow]:
    with store.session() as session:
        return list(session.scalars(select(FindingRow).order_by(FindingRow.id)))


def _sync(store: Store, server: ReplayServer, day: int, watchlist: Watchlist) -> int:
    server.set_day(day)
    client = CtgovClient(server.base_url, min_interval=0, max_retries=1, backoff_base=0)
    return run_sync(store, client, [watchlist]).run_id


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue("store" if request.param == "sqlite" else "pg_store")


def test_findings_open_on_the_run_that_sees_them_and_resolve_once(
    any_store: Store, days: ReplayServer, tmp_path: Path
) -> None:
    store = any_store
    watchlist = _watchlist(tmp_path)
    run1 = _sync(store, days, 1, watchlist)
    assert _rows(store) == []  # 2021-03-01: results not yet due, the seed trial still on plan

    run2 = _sync(store, days, 2, watchlist)
    opened = {(r.key, r.opened_run_id, r.resolved_run_id) for r in _rows(store)}
    assert opened == {
        ("NCT03418623/results_overdue", run2, None),
        ("NCT04327037/status_past_completion", run2, None),
        ("NCT04327037/verification_stale", run2, None),
    }
    overdue = next(r for r in _rows(store) if r.code == "results_overdue")
    assert overdue.evidence["results_due"] == "2021-03-13"
    assert overdue.first_seen_at == overdue.last_seen_at

    run3 = _sync(store, days, 3, watchlist)
    rows = {r.key: r for r in _rows(store)}
    assert len(rows) == 3  # resolved rows are kept, none added
    assert rows["NCT04327037/status_past_completion"].resolved_run_id == run3
    assert rows["NCT04327037/verification_stale"].resolved_run_id == run3
    assert rows["NCT04327037/verification_stale"].open_key is None
    still = rows["NCT03418623/results_overdue"]
    assert (still.resolved_run_id, still.open_key) == (None, "NCT03418623/results_overdue")
    assert still.last_seen_at > still.first_seen_at

    run4 = _sync(store, days, 4, watchlist)
    assert {(r.key, r.opened_run_id, r.resolved_run_id) for r in _rows(store)} == {
        ("NCT03418623/results_overdue", run2, None),
        ("NCT04327037/status_past_completion", run2, run3),
        ("NCT04327037/verification_stale", run2, run3),
    }
    with store.session() as session:
        assert stored.changed_findings(
            session, {"NCT03418623", "NCT04327037"}, after_run=run3, up_to_run=run4
        ) == (
            [],
            [],
        )
        opened_in, resolved_in = stored.changed_findings(
            session, {"NCT03418623", "NCT04327037"}, after_run=run1, up_to_run=run3
        )
    # Opened and resolved within the window: reported as resolved only.
    assert [f.finding.key for f in opened_in] == ["NCT03418623/results_overdue"]
    assert sorted(f.finding.key for f in resolved_in) == [
        "NCT04327037/status_past_completion",
        "NCT04327037/verification_stale",
    ]


def test_the_run_date_is_the_registry_build_not_the_wall_clock(
    store: Store, days: ReplayServer, tmp_path: Path
) -> None:
    run2 = _sync(store, days, 2, _watchlist(tmp_path))
    with store.session() as session:
        assert str(stored.run_date(session, run2)) == "2024-10-01"
    detail = next(r.detail for r in _rows(store) if r.code == "results_overdue")
    # Due 2021-03-13; on 2024-10-01 that is 3 years 6 months ago (the wall clock would say more).
    assert "due by 2021-03-13, 3 years 6 months ago" in detail


def test_a_record_no_check_can_read_keeps_its_findings_and_is_noted(
    store: Store, days: ReplayServer, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path)
    _sync(store, days, 2, watchlist)
    with store.session() as session:
        version = session.execute(
            select(FindingRow.nct_id).where(FindingRow.code == "results_overdue")
        ).scalar_one()
        from trialwatch.store.models import Study, StudyVersion

        study = session.get(Study, version)
        assert study is not None
        row = session.get(StudyVersion, study.current_version_id)
        assert row is not None
        raw = dict(row.raw_json)
        status = dict(raw["protocolSection"]["statusModule"])
        status["startDateStruct"] = {"date": "2018-13-01", "type": "ACTUAL"}
        raw["protocolSection"] = {**raw["protocolSection"], "statusModule": status}
        row.raw_json = raw
    run3 = _sync(store, days, 3, watchlist)
    overdue = next(r for r in _rows(store) if r.code == "results_overdue")
    assert overdue.resolved_run_id is None
    with store.session() as session:
        run = session.get(SyncRun, run3)
        assert run is not None
        assert any(
            note.startswith("findings not evaluated for NCT03418623: NCT03418623: ")
            and "'2018-13-01' is not a registry date" in note
            for note in run.notes
        )


def test_a_second_run_of_the_same_build_evaluates_only_what_changed_since(
    store: Store, days: ReplayServer, tmp_path: Path
) -> None:
    from trialwatch import pipeline
    from trialwatch.store import repository as repo

    watchlist = _watchlist(tmp_path)
    first = _sync(store, days, 2, watchlist)
    before = [(r.key, r.last_seen_at, r.resolved_run_id) for r in _rows(store)]
    assert before  # day 2 opens findings (see the test above)
    with store.session() as session:
        run = session.get(SyncRun, first)
        assert run is not None and run.findings_as_of == stored.run_date(session, first).isoformat()

    # The same build again: nothing was stored, so no trial is evaluated and no finding moves.
    with store.session() as session:
        again = repo.start_sync_run(session, data_timestamp=run.data_timestamp, requested=0)
    assert pipeline.update_findings(store, again)["trials"] == 0
    assert [(r.key, r.last_seen_at, r.resolved_run_id) for r in _rows(store)] == before
    with store.session() as session:
        repo.finish_sync_run(session, again)

    # A trial stored since (here: its current version re-stamped) is evaluated, the other is not.
    with store.session() as session:
        study = session.get(Study, "NCT04327037")
        version = session.get(StudyVersion, study.current_version_id)  # type: ignore[union-attr]
        version.fetched_at = repo.utcnow()
        later = repo.start_sync_run(session, data_timestamp=run.data_timestamp, requested=0)
    assert pipeline.update_findings(store, later)["trials"] == 1
    with store.session() as session:
        repo.finish_sync_run(session, later)

    # A new date evaluates the trials whose findings could have moved by then (findings_due).
    with store.session() as session:
        due = {nct_id: day for nct_id, day in session.execute(select(Study.nct_id, Study.findings_due))}
    assert all(day is not None and day > run.data_timestamp[:10] for day in due.values()), due
    first_due = min(due.values())
    with store.session() as session:
        on_due = repo.start_sync_run(session, data_timestamp=f"{first_due}T00:00:00", requested=0)
    assert pipeline.update_findings(store, on_due)["trials"] == sum(d == first_due for d in due.values())
    with store.session() as session:
        repo.finish_sync_run(session, on_due)

    # An earlier date than the last evaluation's re-evaluates every watched trial.
    with store.session() as session:
        earlier = repo.start_sync_run(session, data_timestamp="2020-01-01T00:00:00", requested=0)
    assert pipeline.update_findings(store, earlier)["trials"] == 2


def test_open_findings_are_read_only_once_some_finding_is_open(
    store: Store, days: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watchlist = _watchlist(tmp_path)
    read: list[list[str]] = []
    open_findings = stored.open_findings

    def counted(session, nct_ids):  # type: ignore[no-untyped-def]
        read.append(list(nct_ids))
        return open_findings(session, nct_ids)

    monkeypatch.setattr(stored, "open_findings", counted)
    _sync(store, days, 1, watchlist)  # 2021-03-01: nothing found, so nothing is open after
    _sync(store, days, 2, watchlist)  # opens three findings (see the first test), none open before
    with store.session() as session:
        assert stored.any_open_findings(session)
    assert read == []
    assert len(_rows(store)) == 3

    run3 = _sync(store, days, 3, watchlist)  # two of them resolve: read, or they would stay open
    assert read
    assert {r.key for r in _rows(store) if r.resolved_run_id == run3} == {
        "NCT04327037/status_past_completion",
        "NCT04327037/verification_stale",
    }


def test_any_open_findings_is_false_once_every_finding_resolved(store: Store) -> None:
    from trialwatch.findings import Finding
    from trialwatch.store import repository as repo

    finding = Finding(
        code="stop_reason_missing",
        nct_id="NCT03418623",
        title="t",
        detail="d",
        category="status",
        severity="minor",
        rule="r",
    )
    with store.session() as session:
        assert not stored.any_open_findings(session)
        run = repo.start_sync_run(session, data_timestamp="2024-10-01T00:00:00", requested=0)
        now = repo.utcnow()
        stored.record_findings(session, run_id=run, now=now, new=[finding], still_open=[], resolved=[])
        assert stored.any_open_findings(session)
        stored.record_findings(session, run_id=run, now=now, new=[], still_open=[], resolved=[finding])
        assert not stored.any_open_findings(session)


def _finding_rows(store: Store) -> set[tuple[object, ...]]:
    return {(r.key, r.severity, r.title, r.detail, repr(r.evidence), r.resolved_run_id) for r in _rows(store)}


def _due(store: Store) -> dict[str, str | None]:
    with store.session() as session:
        return {nct_id: due for nct_id, due in session.execute(select(Study.nct_id, Study.findings_due))}


def _first_sync_without_history(store: Store, server: ReplayServer, day: int, watchlist: Watchlist) -> int:
    server.set_day(day)
    client = CtgovClient(server.base_url, min_interval=0, max_retries=1, backoff_base=0)
    return run_sync(store, client, [watchlist], use_history=False).run_id


def test_a_batch_evaluates_its_new_trials_as_the_findings_step_would(
    any_store: Store, days: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialwatch import pipeline

    store = any_store
    watchlist = _watchlist(tmp_path)
    read_back: list[str] = []
    current_records = stored.current_records

    def counted(session, nct_ids):  # type: ignore[no-untyped-def]
        read_back.extend(nct_ids)
        return current_records(session, nct_ids)

    monkeypatch.setattr(stored, "current_records", counted)
    run = _first_sync_without_history(store, days, 2, watchlist)
    # Day 2 opens three findings on these two trials (the first test); the batch found them all,
    # so the run's findings step read no record back.
    assert read_back == []
    in_batch = _finding_rows(store)
    assert {row[0] for row in in_batch} == {
        "NCT03418623/results_overdue",
        "NCT04327037/status_past_completion",
        "NCT04327037/verification_stale",
    }
    assert {r.opened_run_id for r in _rows(store)} == {run}
    with store.session() as session:
        marks = set(session.execute(select(Study.findings_run_id, Study.findings_version_id)))
        currents = set(session.scalars(select(Study.current_version_id)))
        assert {mark[0] for mark in marks} == {run}
        assert {mark[1] for mark in marks} == currents
        assert session.get(SyncRun, run).findings_as_of == "2024-10-01"  # type: ignore[union-attr]
    due_in_batch = _due(store)

    # The same first sync into another store, with the batches' evaluation switched off: the run's
    # findings step reads the records back and stores the same findings and due dates.
    monkeypatch.setattr(pipeline, "_evaluate_new_trials", lambda session, run_id, writes: None)
    other = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    other.upgrade()
    _first_sync_without_history(other, days, 2, watchlist)
    assert sorted(read_back) == ["NCT03418623", "NCT04327037"]
    assert _finding_rows(other) == in_batch
    assert _due(other) == due_in_batch
    other.dispose()


def test_the_findings_step_counts_and_skips_only_what_its_own_batches_evaluated(
    store: Store, days: ReplayServer, tmp_path: Path
) -> None:
    from trialwatch import pipeline
    from trialwatch.store import repository as repo

    watchlist = _watchlist(tmp_path)
    run = _first_sync_without_history(store, days, 2, watchlist)
    with store.session() as session:
        assert stored.evaluated_in_batches(session, run) == (2, 3)  # two trials, three findings opened
        other = repo.start_sync_run(session, data_timestamp="2024-10-01T00:00:00", requested=0)
    # Another run of the same build did not evaluate them: a first evaluation takes every trial.
    with store.session() as session:
        session.execute(SyncRun.__table__.update().values(findings_as_of=None))
    assert pipeline.update_findings(store, other)["trials"] == 2
    # The run itself, at another date than its own, evaluates them again.
    assert pipeline.update_findings(store, run, as_of=date(2026, 1, 1))["trials"] == 2
    # At its own date it skips them and counts what its batches found.
    assert pipeline.update_findings(store, run) == {"trials": 2, "new": 3, "resolved": 0, "open": 3}


def test_a_changed_trial_after_a_failed_run_is_evaluated_again(
    store: Store, days: ReplayServer, tmp_path: Path
) -> None:
    watchlist = _watchlist(tmp_path)
    failed = _first_sync_without_history(store, days, 2, watchlist)
    with store.session() as session:  # as if the run had stopped before its findings step
        session.execute(SyncRun.__table__.update().where(SyncRun.id == failed).values(findings_as_of=None))
    run3 = _first_sync_without_history(store, days, 3, watchlist)
    # Day 3 resolves two of day 2's findings (the first test): evaluated, though a batch marked them.
    assert {r.key for r in _rows(store) if r.resolved_run_id == run3} == {
        "NCT04327037/status_past_completion",
        "NCT04327037/verification_stale",
    }


def test_a_new_trial_no_check_can_read_is_left_to_the_findings_step_and_noted(
    store: Store, days: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialwatch import findings

    evaluate_until = findings.evaluate_until

    def unreadable(record, **kwargs):  # type: ignore[no-untyped-def]
        if record["protocolSection"]["identificationModule"]["nctId"] == "NCT03418623":
            raise ValueError("NCT03418623: '2018-13-01' is not a registry date")
        return evaluate_until(record, **kwargs)

    monkeypatch.setattr(findings, "evaluate_until", unreadable)
    run = _first_sync_without_history(store, days, 2, _watchlist(tmp_path))
    with store.session() as session:
        marks = {
            nct_id: mark for nct_id, mark in session.execute(select(Study.nct_id, Study.findings_run_id))
        }
        notes = session.get(SyncRun, run).notes  # type: ignore[union-attr]
    assert marks == {"NCT03418623": None, "NCT04327037": run}
    assert "findings not evaluated for NCT03418623: NCT03418623: '2018-13-01' is not a registry date" in notes
    assert {r.nct_id for r in _rows(store)} == {"NCT04327037"}
