"""Search by title and id: the same rows on both backends, through SQLite's trigram index (0015) too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import column, delete, inspect, table, update
from trialwatch.store import Store
from trialwatch.store import read_models as rm
from trialwatch.store.models import Study

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TITLES = {
    "NCT00000001": "Pembrolizumab in Melanoma",
    "NCT00000002": "PEMBROLIZUMAB Plus Chemotherapy",
    "NCT00000003": "Études de l'Été",
    "NCT00000004": "A 100% response_rate study",
    "NCT00000005": "Follow-up of NCT00000002",
    "NCT00000006": "A 100 percent response rate study",
    "NCT00000010": 'A "quoted" title',
}


# The columns every schema since 0014 has: rows written at an older schema than the models'.
STUDIES = table(
    "studies", column("nct_id"), column("title"), column("first_seen_at"), column("last_changed_at")
)


def _fill(store: Store) -> None:
    with store.session() as session:
        for n, (nct_id, title) in enumerate(TITLES.items()):
            # A later id changed more recently: the order after an exact id is newest change first.
            session.execute(
                STUDIES.insert().values(
                    nct_id=nct_id, title=title, first_seen_at=NOW, last_changed_at=NOW + timedelta(days=n)
                )
            )
        session.commit()


def _found(store: Store, text: str) -> list[str]:
    with store.session() as session:
        return [study.nct_id for study in rm.search(session, text, rm.PageRequest()).items]


def _exercise(store: Store) -> None:
    _fill(store)
    assert _found(store, "pembrolizumab") == ["NCT00000002", "NCT00000001"]
    assert _found(store, "  MELANOMA ") == ["NCT00000001"]
    # The exact id first, then the title that names it.
    assert _found(store, "nct00000002") == ["NCT00000002", "NCT00000005"]
    assert _found(store, "NCT0000000") == [f"NCT0000000{i}" for i in (6, 5, 4, 3, 2, 1)]
    # Wildcards and quotes are text.
    assert _found(store, "100%") == ["NCT00000004"]
    assert _found(store, "e_rate") == ["NCT00000004"]  # not "response rate"
    assert _found(store, '"quoted"') == ["NCT00000010"]
    assert _found(store, "qqqxqqq") == []
    assert _found(store, "Pe") == ["NCT00000006", "NCT00000002", "NCT00000001"]  # too short for trigrams
    with store.session() as session:
        session.execute(
            update(Study).where(Study.nct_id == "NCT00000001").values(title="Nivolumab in Melanoma")
        )
        session.execute(delete(Study).where(Study.nct_id == "NCT00000002"))
        session.add(Study(nct_id="NCT00000011", title="pembrolizumab again", first_seen_at=NOW))
    assert _found(store, "pembrolizumab") == ["NCT00000011"]
    assert _found(store, "nivolumab") == ["NCT00000001"]


def test_search_finds_titles_and_ids_on_sqlite(store: Store) -> None:
    _exercise(store)
    # SQLite's LIKE folds ASCII only: the index (which folds more) must not add rows to it.
    assert _found(store, "été") == []
    assert _found(store, "Été") == ["NCT00000003"]
    with store.session() as session:
        assert rm._title_index(session, "melanoma", Study.title.like("%melanoma%")) == ["NCT00000001"]


@pytest.mark.postgres
def test_search_finds_titles_and_ids_on_postgres(pg_store: Store) -> None:
    _exercise(pg_store)
    assert _found(pg_store, "été") == ["NCT00000003"]  # ILIKE folds beyond ASCII there


def test_the_index_does_not_follow_the_rowids_vacuum_may_renumber(store: Store) -> None:
    # SQLite's VACUUM may renumber the rowids of a table without an INTEGER PRIMARY KEY (studies):
    # the index is keyed by the trial's number instead, so moving every rowid changes nothing.
    from sqlalchemy import text

    _fill(store)
    with store.session() as session:
        session.execute(text("UPDATE studies SET rowid = rowid + 1000"))
    assert _found(store, "pembrolizumab") == ["NCT00000002", "NCT00000001"]
    with store.session() as session:
        session.execute(delete(Study).where(Study.nct_id == "NCT00000001"))
    assert _found(store, "pembrolizumab") == ["NCT00000002"]


def test_search_says_more_than_the_cap(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(store)
    monkeypatch.setattr(rm, "SEARCH_COUNT_CAP", 2)
    with store.session() as session:
        three = rm.search(session, "response", rm.PageRequest())  # two titles
        many = rm.search(session, "NCT", rm.PageRequest())  # seven ids
        mixed = rm.search(session, "NCT00000002", rm.PageRequest())  # one id and one title
    assert (three.total, three.total_capped) == (2, False)
    assert (many.total, many.total_capped) == (2, True)
    assert (mixed.total, mixed.total_capped) == (2, False)


def test_migration_indexes_existing_titles_and_downgrades(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.upgrade("0014")
    _fill(store)  # written before the index existed
    store.upgrade()
    assert rm.TITLE_INDEX in inspect(store.engine).get_table_names()
    assert _found(store, "pembrolizumab") == ["NCT00000002", "NCT00000001"]
    store.downgrade("0014")
    assert rm.TITLE_INDEX not in inspect(store.engine).get_table_names()
    with store.session() as session:
        session.execute(
            STUDIES.insert().values(nct_id="NCT00000012", title="Pembrolizumab later", first_seen_at=NOW)
        )
        session.commit()
    # Written without the index (and its triggers): upgrading again indexes it too.
    store.upgrade()
    assert _found(store, "pembrolizumab") == ["NCT00000002", "NCT00000001", "NCT00000012"]
    store.dispose()


def _pending(store: Store) -> list[str]:
    from trialwatch.store import title_index

    with store.engine.connect() as connection:
        return [row[0] for row in connection.exec_driver_sql(f"SELECT nct_id FROM {title_index.PENDING}")]


def _indexed(store: Store, word: str) -> list[int]:
    with store.engine.connect() as connection:
        query = f"SELECT rowid FROM {rm.TITLE_INDEX} WHERE {rm.TITLE_INDEX} MATCH ? ORDER BY rowid"
        return [row[0] for row in connection.exec_driver_sql(query, (f'"{word}"',))]


def test_the_index_catches_up_when_a_store_session_commits(store: Store) -> None:
    _fill(store)  # through a store session: its commit indexed every title
    assert _pending(store) == []
    assert _indexed(store, "pembrolizumab") == [1, 2]
    with store.session() as session:
        session.execute(update(Study).where(Study.nct_id == "NCT00000002").values(title="Nivolumab"))
        session.execute(delete(Study).where(Study.nct_id == "NCT00000001"))
        assert sorted(_pending_in(session)) == ["NCT00000001", "NCT00000002"]  # noted, not yet indexed
    assert _pending(store) == []
    assert _indexed(store, "pembrolizumab") == [] and _indexed(store, "nivolumab") == [2]


def _pending_in(session) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text
    from trialwatch.store import title_index

    return list(session.scalars(text(f"SELECT nct_id FROM {title_index.PENDING}")))


def test_search_finds_titles_written_past_the_store(store: Store) -> None:
    """A writer that bypasses the store leaves its trials noted, not indexed: search still finds them."""
    import sqlite3

    _fill(store)
    path = store.engine.url.database
    with sqlite3.connect(str(path)) as raw:
        raw.execute(
            "INSERT INTO studies (nct_id, title, first_seen_at, current_members) VALUES (?, ?, ?, 0)",
            ("NCT00000013", "Pembrolizumab written directly", NOW.isoformat()),
        )
        raw.execute("UPDATE studies SET title = 'Renamed' WHERE nct_id = 'NCT00000001'")
    assert sorted(_pending(store)) == ["NCT00000001", "NCT00000013"]
    assert _indexed(store, "pembrolizumab") == [1, 2]  # the index still holds the old titles
    assert sorted(_found(store, "pembrolizumab")) == ["NCT00000002", "NCT00000013"]
    assert _found(store, "renamed") == ["NCT00000001"]
    with store.session() as session:  # any write through the store catches up
        session.execute(update(Study).where(Study.nct_id == "NCT00000003").values(title="Études"))
    assert _pending(store) == []
    assert _indexed(store, "pembrolizumab") == [2, 13]


def test_0018_keeps_the_index_and_its_downgrade_brings_back_the_row_triggers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.upgrade("0017")
    _fill(store)  # indexed by 0015's triggers
    store.upgrade()
    assert _found(store, "pembrolizumab") == ["NCT00000002", "NCT00000001"]
    with store.session() as session:
        session.add(Study(nct_id="NCT00000011", title="pembrolizumab again", first_seen_at=NOW))
    store.downgrade("0017")
    assert "studies_title_pending" not in inspect(store.engine).get_table_names()
    assert _indexed(store, "pembrolizumab") == [1, 2, 11]
    with store.session() as session:  # 0015's triggers index this one as it is written
        session.execute(
            STUDIES.insert().values(nct_id="NCT00000012", title="Pembrolizumab", first_seen_at=NOW)
        )
    assert _indexed(store, "pembrolizumab") == [1, 2, 11, 12]
    store.dispose()
