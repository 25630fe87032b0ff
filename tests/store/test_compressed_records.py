"""Stored records are compressed with the shipped dictionary; migration 0009 converts older stores."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from trialwatch import records, settings
from trialwatch.store import Store
from trialwatch.store.codec import decode_record, encode_record, posted_of
from trialwatch.store.models import Study, StudyVersion

SAMPLE = settings.PACKAGE_DIR / "replay" / "data" / "samples" / "study_NCT00184067.json"


def test_a_record_round_trips_and_is_much_smaller_than_its_json() -> None:
    study = json.loads(SAMPLE.read_text(encoding="utf-8"))
    blob = encode_record(study)
    assert decode_record(blob) == study
    assert len(blob) * 3 < len(json.dumps(study, separators=(",", ":")).encode())
    assert posted_of(study) == study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    assert posted_of({"protocolSection": []}) is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_0009_compresses_stored_records_and_back(
    backend: str, sqlite_url: str, request: pytest.FixtureRequest
) -> None:
    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    study = json.loads(SAMPLE.read_text(encoding="utf-8"))
    nct_id = records.nct_id_of(study)
    store = Store(url)
    store.upgrade("0008")
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO studies (nct_id, title, first_seen_at, quick_hash) VALUES (:n, 't', :now, :q)"),
            {"n": nct_id, "now": "2026-11-20 08:00:00", "q": "0" * 64},
        )
        for raw in (json.dumps(study), "{}"):
            conn.execute(
                text(
                    "INSERT INTO study_versions (nct_id, content_hash, fetched_at, source, raw_json, version_key) "
                    "VALUES (:n, :h, :now, 'current', :raw, :k)"
                ),
                {
                    "n": nct_id,
                    "h": str(len(raw)).zfill(64),
                    "now": "2026-11-20 08:00:00",
                    "raw": raw,
                    "k": raw[:2],
                },
            )
        conn.execute(  # an event on the first version: its foreign key must survive the upgrade
            text(
                "INSERT INTO change_events (nct_id, version_id, category, field, path, severity, detail, "
                "backfill, detected_at, event_key) SELECT nct_id, min(id), 'status', 'Overall status', "
                "'p', 'major', '', :f, :now, 'k' FROM study_versions GROUP BY nct_id"
            ),
            {"f": False, "now": "2026-11-20 08:00:00"},
        )
    store.upgrade()
    with store.session() as session:
        first, empty = session.scalars(select(StudyVersion).order_by(StudyVersion.id)).all()
        assert (first.raw_json, first.posted) == (study, posted_of(study))
        assert (empty.raw_json, empty.posted) == ({}, None)
        # The quick hash's encoding changed: an old one must not wave a record through.
        assert session.get(Study, nct_id).quick_hash is None  # type: ignore[union-attr]
    store.downgrade("0008")
    with store.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT raw_json FROM study_versions ORDER BY id"))]
    assert [json.loads(v) if isinstance(v, str) else v for v in stored] == [study, {}]
    store.dispose()
