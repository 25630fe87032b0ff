"""The store on SQLite and on PostgreSQL: versions, events, memberships, sync runs, concurrent writers."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading

import pytest
from sqlalchemy import func, inspect, select
from trialwatch import records, settings
from trialwatch.events import ChangeEvent
from trialwatch.store import Store
from trialwatch.store import repository as repo
from trialwatch.store.models import ChangeEventRow, Study, StudyVersion, SyncRun

SAMPLES = settings.PACKAGE_DIR / "replay" / "data" / "samples"
STUDY = json.loads((SAMPLES / "study_NCT03418623.json").read_text())
NCT = "NCT03418623"


def _version(
    study: dict, events: list[ChangeEvent] | None = None, version: int | None = None
) -> repo.NewVersion:
    return repo.NewVersion(
        study=study, content_hash=records.content_hash(study), events=events or [], registry_version=version
    )


def _suspended() -> dict:
    study = copy.deepcopy(STUDY)
    study["protocolSection"]["statusModule"]["overallStatus"] = "SUSPENDED"
    return study


def _exercise_versions(store: Store) -> None:
    with store.session() as session:
        assert (
            repo.store_versions(
                session, NCT, [_version(STUDY, version=3)], data_timestamp="2026-11-01T09:00:00"
            )
            == 0
        )
    suspended = _suspended()
    event = ChangeEvent(
        category="status",
        field="Overall status",
        old="COMPLETED",
        new="SUSPENDED",
        severity="critical",
        nct_id=NCT,
    )
    with store.session() as session:
        assert repo.current_version(session, NCT)[1].content_hash == records.content_hash(STUDY)  # type: ignore[union-attr]
        repo.store_versions(
            session, NCT, [_version(suspended, [event], 4)], data_timestamp="2026-11-02T09:00:00"
        )
    with store.session() as session:
        study, current = repo.current_version(session, NCT)
        assert study is not None and current is not None
        assert (study.overall_status, study.registry_version, study.last_change_severity) == (
            "SUSPENDED",
            4,
            "critical",
        )
        assert study.title == records.brief_title(STUDY)
        assert current.raw_json == suspended
        assert session.scalar(select(func.count()).select_from(StudyVersion)) == 2
        row = session.scalars(select(ChangeEventRow)).one()
        assert repo.event_from_row(row) == event


def test_versions_and_events_on_sqlite(store: Store) -> None:
    _exercise_versions(store)


@pytest.mark.postgres
def test_versions_and_events_on_postgres(pg_store: Store) -> None:
    assert "study_versions" in inspect(pg_store.engine).get_table_names()
    _exercise_versions(pg_store)


def test_backfilled_events_do_not_count_as_news(store: Store) -> None:
    event = ChangeEvent(
        category="status", field="Overall status", old="A", new="B", severity="major", nct_id=NCT
    )
    backfilled = _version(_suspended(), [event], 1)
    backfilled.backfill = True
    with store.session() as session:
        repo.store_versions(session, NCT, [_version(STUDY, version=0), backfilled], data_timestamp=None)
    with store.session() as session:
        study = session.get(Study, NCT)
        assert study is not None and study.last_changed_at is None
        assert session.scalars(select(ChangeEventRow.backfill)).one() is True


def test_memberships_report_trials_that_left_a_query_once(store: Store) -> None:
    with store.session() as session:
        assert repo.update_memberships(session, "nk", {"NCT00000001": "id", "NCT00000002": "query"}) == []
    with store.session() as session:
        assert repo.update_memberships(session, "nk", {"NCT00000001": "id"}) == ["NCT00000002"]
    with store.session() as session:
        assert repo.update_memberships(session, "nk", {"NCT00000001": "id"}) == []


def test_gone_and_alias_are_reported_once(store: Store) -> None:
    with store.session() as session:
        repo.store_versions(session, NCT, [_version(STUDY, version=3)], data_timestamp=None)
    with store.session() as session:
        assert repo.mark_gone(session, NCT) is True
    with store.session() as session:
        assert repo.mark_gone(session, NCT) is False
        assert repo.mark_alias(session, "NCT00000010", "NCT00000011") is True
    with store.session() as session:
        assert repo.mark_alias(session, "NCT00000010", "NCT00000011") is False


def _concurrent_sync_run_updates(store: Store) -> None:
    with store.session() as session:
        run_id = repo.start_sync_run(session, data_timestamp="2026-11-01T09:00:00", requested=40)
    errors: list[Exception] = []

    def batch(n: int) -> None:
        try:
            for i in range(5):
                with store.session() as session:
                    repo.add_to_sync_run(
                        session, run_id, fetched=1, events=2, failures=[{"nct_id": f"B{n}-{i}", "error": "x"}]
                    )
        except Exception as exc:  # noqa: BLE001 - a thread cannot raise into the test; surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=batch, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.session() as session:
        run = repo.finish_sync_run(session, run_id)
    with store.session() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        assert (run.studies_fetched, run.events_added, run.status) == (40, 80, "partial")
        assert len(run.failures) == 40


def test_concurrent_writers_never_hit_database_is_locked(store: Store) -> None:
    """Mapped tasks commit at once; on SQLite WAL + BEGIN IMMEDIATE + busy timeout make them queue."""
    _concurrent_sync_run_updates(store)


@pytest.mark.postgres
def test_concurrent_writers_on_postgres(pg_store: Store) -> None:
    _concurrent_sync_run_updates(pg_store)


def test_upgrade_is_idempotent(store: Store) -> None:
    store.upgrade()
    assert {"studies", "study_versions", "change_events", "digest_outbox", "sync_runs"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_sqlite_runs_in_wal_mode(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_sqlite_keeps_statement_journals_and_sorts_in_memory(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2  # 2 is MEMORY


def test_sqlite_page_cache_holds_32_mib_for_writers_only(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -32 * 1024  # negative: KiB
    default = sqlite3.connect(":memory:").execute("PRAGMA cache_size").fetchone()[0]
    reader = Store(store.url, readonly=True)
    try:
        with reader.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == default != -32 * 1024
    finally:
        reader.dispose()


@pytest.mark.postgres
def test_odd_registry_values_do_not_break_the_typed_columns_on_postgres(pg_store: Store) -> None:
    odd = copy.deepcopy(STUDY)
    odd["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": "about 40", "type": "X" * 30}
    odd["protocolSection"]["statusModule"]["overallStatus"] = "S" * 41
    with pg_store.session() as session:
        repo.store_versions(session, NCT, [_version(odd)], data_timestamp=None)
    with pg_store.session() as session:
        study, current = repo.current_version(session, NCT)
        assert study is not None and current is not None
        assert (study.overall_status, study.enrollment_count, study.enrollment_type) == (None, None, None)
        assert current.raw_json == odd  # the record itself is kept as the registry sent it


def test_a_reader_does_not_wait_for_a_writer_on_sqlite(store: Store) -> None:
    """The UI reads while a sync holds the write lock: WAL lets it, as long as it takes no lock itself."""
    reader = Store(store.url, readonly=True)
    with store.session() as writing:
        repo.start_sync_run(writing, data_timestamp=None, requested=1)
        writing.flush()  # the writer holds SQLite's write lock until commit
        # A locking reader would wait out the busy timeout here and then fail with "database is locked".
        with reader.session() as reading:
            assert reading.scalar(select(func.count()).select_from(SyncRun)) == 0
    reader.dispose()


def test_a_trial_never_stored_cannot_be_marked_gone(store: Store) -> None:
    with store.session() as session:
        assert repo.ever_stored(session, "NCT00000009") is False
        with pytest.raises(LookupError, match="NCT00000009 was never stored"):
            repo.mark_gone(session, "NCT00000009")


def test_last_posted_follows_the_current_version(store: Store) -> None:
    """The overview's sort key: the current version's history date, else the record's own date."""
    record_date = STUDY["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    with store.session() as session:
        repo.store_versions(session, NCT, [_version(STUDY, version=3)], data_timestamp=None)
        assert session.get(Study, NCT).last_posted == record_date  # type: ignore[union-attr]
    dated = repo.NewVersion(
        study=_suspended(),
        content_hash=records.content_hash(_suspended()),
        events=[],
        registry_version=4,
        registry_version_date="2026-10-30",
    )
    with store.session() as session:
        repo.store_versions(session, NCT, [dated], data_timestamp=None)
        assert session.get(Study, NCT).last_posted == "2026-10-30"  # type: ignore[union-attr]


def test_a_batch_fills_the_overview_columns_of_new_and_known_trials(store: Store) -> None:
    """store_batch shows a trial as store_versions does: title, status, enrollment, posting date,
    for a new trial (its row inserted) and for one it moves on (its row updated)."""
    ident = STUDY["protocolSection"]["identificationModule"]
    status = STUDY["protocolSection"]["statusModule"]
    enrollment = STUDY["protocolSection"]["designModule"]["enrollmentInfo"]
    new = repo.StudyWrite(NCT, _version(STUDY), None, has_row=False)
    with store.session() as session:
        repo.store_batch(session, [new], data_timestamp=None)
    with store.session() as session:
        study = session.get(Study, NCT)
        assert study is not None and study.current_version_id is not None
        assert study.title == ident["briefTitle"]
        assert study.overall_status == status["overallStatus"]
        assert (study.enrollment_count, study.enrollment_type) == (enrollment["count"], enrollment["type"])
        assert study.last_posted == status["lastUpdatePostDateStruct"]["date"]
        first = study.current_version_id

    suspended = _suspended()
    suspended["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2026-11-02"
    moved = repo.StudyWrite(NCT, _version(suspended), first, has_row=True)
    with store.session() as session:
        repo.store_batch(session, [moved], data_timestamp=None)
    with store.session() as session:
        study = session.get(Study, NCT)
        assert study is not None and study.current_version_id != first
        assert (study.overall_status, study.last_posted) == ("SUSPENDED", "2026-11-02")
        assert study.title == ident["briefTitle"]


def test_migration_copies_the_posting_date_of_current_versions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0011 fills studies.last_posted for stores written before it, from each current version."""
    from datetime import UTC, datetime

    from sqlalchemy import JSON, Integer, String, column, insert, table

    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.upgrade("0008")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    studies = table("studies", column("nct_id", String), column("title", String), column("first_seen_at"),
                    column("current_version_id", Integer))  # fmt: skip
    versions = table("study_versions", column("id", Integer), column("nct_id", String), column("content_hash", String),
                     column("registry_version_date", String), column("fetched_at"), column("source", String),
                     column("raw_json", JSON), column("version_key", String))  # fmt: skip
    with store.engine.connect() as connection:
        for n, (nct_id, history_date) in enumerate([("NCT00000001", "2024-05-06"), ("NCT00000002", None)], 1):
            connection.execute(insert(studies).values(nct_id=nct_id, title="t", first_seen_at=now))
            record = {
                "protocolSection": {"statusModule": {"lastUpdatePostDateStruct": {"date": f"2025-0{n}-01"}}}
            }
            connection.execute(insert(versions).values(id=n, nct_id=nct_id, content_hash="0" * 64, fetched_at=now,
                                                       registry_version_date=history_date, source="current",
                                                       raw_json=record, version_key="v1"))  # fmt: skip
            connection.execute(
                studies.update().where(studies.c.nct_id == nct_id).values(current_version_id=n)
            )
        connection.execute(
            insert(studies).values(nct_id="NCT00000003", title="never fetched", first_seen_at=now)
        )
        connection.commit()
    store.upgrade()
    with store.session() as session:
        posted = dict(session.execute(select(Study.nct_id, Study.last_posted)).all())
    store.dispose()
    # The history date where there is one, else the record's own; nothing for a trial without versions.
    assert posted == {"NCT00000001": "2024-05-06", "NCT00000002": "2025-02-01", "NCT00000003": None}


def _exercise_member_counts(store: Store) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import delete, insert, update
    from trialwatch.store import read_models
    from trialwatch.store.models import WatchlistTrial

    now = datetime(2026, 1, 1, tzinfo=UTC)

    def counts() -> dict[str, int]:
        with store.session() as session:
            return {c.name: c.trials for c in read_models.watchlist_counts(session)}

    rows = [
        {
            "watchlist": name,
            "nct_id": f"NCT0000000{i}",
            "via": "query",
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for name, i in [("a", 1), ("a", 2), ("a", 3), ("b", 1)]
    ]
    with store.session() as session:
        session.execute(insert(WatchlistTrial), rows)  # one statement, several rows
    assert counts() == {"a": 3, "b": 1}
    members = WatchlistTrial.__table__.c
    with store.session() as session:
        session.execute(update(WatchlistTrial).where(members.nct_id == "NCT00000002").values(left_at=now))
        session.execute(delete(WatchlistTrial).where(members.watchlist == "b"))
    # NCT00000002 left a's query (it no longer counts); b lost its only member and is not listed.
    assert counts() == {"a": 2}
    with store.session() as session:
        session.execute(update(WatchlistTrial).where(members.nct_id == "NCT00000002").values(left_at=None))
        session.add(
            WatchlistTrial(watchlist="c", nct_id="NCT00000009", via="id", first_seen_at=now, last_seen_at=now)
        )
    assert counts() == {"a": 3, "c": 1}


def test_member_counts_follow_every_write_on_sqlite(store: Store) -> None:
    _exercise_member_counts(store)


def test_member_counts_follow_every_write_on_postgres(pg_store: Store) -> None:
    _exercise_member_counts(pg_store)
