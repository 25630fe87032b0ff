"""Fixtures for the Trial Watch UI: a store filled with known rows, and clients with and without a user."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO / "plugins"))

SEED = "NCT02185781"
WATCHLIST_SIZE = 60
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOSTILE_TITLE = '<script>alert("title")</script> CAR-T & NK <b>cells</b>'
HOSTILE_HTML = (
    '<html><body><h1>Digest</h1><script>alert("x")</script>'
    '<img src="https://tracker.example/pixel.gif" onerror="alert(1)"><p>3 changes</p></body></html>'
)


def _record(nct_id: str, status: str, enrollment: int) -> dict:
    return {
        "protocolSection": {
            "identificationModule": {"nctId": nct_id, "briefTitle": f"Study {nct_id}"},
            "statusModule": {
                "overallStatus": status,
                "startDateStruct": {"date": "2014-07", "type": "ACTUAL"},
                "primaryCompletionDateStruct": {"date": "2024-03-01", "type": "ACTUAL"},
            },
            "designModule": {"phases": ["PHASE2"], "enrollmentInfo": {"count": enrollment, "type": "ACTUAL"}},
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Fred Hutchinson Cancer Center"}},
            "conditionsModule": {"conditions": ["Leukemia"]},
        }
    }


def _digest_message(subject: str) -> str:
    message = EmailMessage()
    message["From"] = "trialwatch@example.org"
    message["To"] = "office@example.org"
    message["Subject"] = subject
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = "<abc@trialwatch>"
    message.set_content("NCT02185781: Overall status RECRUITING -> COMPLETED\n")
    message.add_alternative(HOSTILE_HTML, subtype="html")
    message.make_mixed()
    message.add_attachment("nct_id,field\nNCT02185781,status\n", subtype="csv", filename="changes.csv")
    return message.as_string()


def fill_store(store) -> None:  # type: ignore[no-untyped-def]
    """Known rows: 60 trials in "hematology", two in "nk-cells", a seed trial with three versions."""
    from trialwatch.store.models import (
        ChangeEventRow,
        DigestOutbox,
        Study,
        StudyVersion,
        SyncRun,
        WatchlistTrial,
    )

    severities = ["critical", "major", "minor", "info", None]
    with store.session() as session:
        for i in range(1, WATCHLIST_SIZE + 1):
            nct_id = f"NCT{i:08d}"
            session.add(
                Study(
                    nct_id=nct_id,
                    title=HOSTILE_TITLE if i == 7 else f"Trial number {i:02d}",
                    overall_status="RECRUITING" if i % 2 else "COMPLETED",
                    enrollment_count=i * 10,
                    enrollment_type="ESTIMATED",
                    first_seen_at=NOW - timedelta(days=30),
                    # i == 60 never changed: its last change is NULL and must sort last.
                    last_changed_at=None if i == WATCHLIST_SIZE else NOW - timedelta(hours=i),
                    last_change_severity=severities[i % 5] if i != WATCHLIST_SIZE else None,
                )
            )
            session.add(
                WatchlistTrial(
                    watchlist="hematology",
                    nct_id=nct_id,
                    via="query",
                    first_seen_at=NOW - timedelta(days=30),
                    last_seen_at=NOW,
                )
            )
        session.add(
            Study(
                nct_id=SEED,
                title="Donor NK cells after transplant",
                overall_status="COMPLETED",
                enrollment_count=42,
                enrollment_type="ACTUAL",
                registry_version=3,
                # What the sync keeps with the current version: version 3's posting date below.
                last_posted="2024-03-15",
                first_seen_at=NOW - timedelta(days=2),
                last_fetched_at=NOW,
                last_changed_at=NOW - timedelta(minutes=5),
                last_change_severity="critical",
            )
        )
        session.flush()
        versions = []
        for number, (status, enrollment) in enumerate(
            [("RECRUITING", 40), ("ACTIVE_NOT_RECRUITING", 40), ("COMPLETED", 42)], start=1
        ):
            version = StudyVersion(
                nct_id=SEED,
                content_hash=f"{number:064d}",
                registry_version=number,
                registry_version_date=f"2024-0{number}-15",
                data_timestamp=f"2026-11-1{number}T08:00:00",
                fetched_at=NOW - timedelta(days=3 - number),
                source="history" if number < 3 else "current",
                raw_json=_record(SEED, status, enrollment),
            )
            session.add(version)
            session.flush()
            versions.append(version)
        session.get(Study, SEED).current_version_id = versions[-1].id
        events = [
            (
                versions[1],
                "status",
                "Overall status",
                "RECRUITING",
                "ACTIVE_NOT_RECRUITING",
                "major",
                "",
                1,
                2,
            ),
            (
                versions[2],
                "status",
                "Overall status",
                "ACTIVE_NOT_RECRUITING",
                "COMPLETED",
                "critical",
                "",
                2,
                3,
            ),
            (versions[2], "enrollment", "Enrollment", 40, 42, "minor", "+5% <estimated → actual>", 2, 3),
        ]
        for version, category, field, old, new, severity, detail, old_v, new_v in events:
            session.add(
                ChangeEventRow(
                    nct_id=SEED,
                    version_id=version.id,
                    category=category,
                    field=field,
                    path=f"protocolSection.{category}",
                    old=old,
                    new=new,
                    severity=severity,
                    detail=detail,
                    old_version=old_v,
                    new_version=new_v,
                    detected_at=version.fetched_at,
                    backfill=old_v == 1,
                )
            )
        for watchlist in ("hematology", "nk-cells"):
            session.add(
                WatchlistTrial(
                    watchlist=watchlist,
                    nct_id=SEED,
                    via="id",
                    first_seen_at=NOW - timedelta(days=2),
                    last_seen_at=NOW,
                )
            )
        session.add(
            WatchlistTrial(
                watchlist="nk-cells",
                nct_id="NCT00000002",
                via="query",
                first_seen_at=NOW - timedelta(days=9),
                last_seen_at=NOW - timedelta(days=1),
                left_at=NOW - timedelta(days=1),
            )
        )
        session.add_all(
            [
                SyncRun(
                    started_at=NOW - timedelta(days=1),
                    finished_at=NOW - timedelta(days=1) + timedelta(seconds=42),
                    status="ok",
                    data_timestamp="2026-11-19T08:00:00",
                    studies_requested=61,
                    studies_fetched=61,
                    versions_added=61,
                    events_added=0,
                    failures=[],
                    notes=[],
                ),
                SyncRun(
                    started_at=NOW,
                    finished_at=NOW + timedelta(seconds=30),
                    status="partial",
                    data_timestamp="2026-11-20T08:00:00",
                    studies_requested=61,
                    studies_fetched=60,
                    versions_added=2,
                    events_added=3,
                    failures=[{"nct_id": "NCT00000009", "error": "HTTP 503 <Service Unavailable>"}],
                    notes=["version history unavailable: fell back to current diffs"],
                ),
            ]
        )
        session.add(
            DigestOutbox(
                watchlist="nk-cells",
                period_key="2026-11-20",
                recipient="office@example.org",
                message_id="<abc@trialwatch>",
                subject='<img src=x onerror="alert(2)"> 3 changes',
                status="sent",
                attempts=1,
                event_count=1,
                # Covered the first event: the next digest holds the two newer ones.
                first_event_id=1,
                last_event_id=1,
                message=_digest_message("3 changes <b>now</b>"),
                created_at=NOW,
                sent_at=NOW + timedelta(seconds=2),
            )
        )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def filled_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The same known rows on SQLite and on PostgreSQL (production's store)."""
    from contextlib import ExitStack

    from trialwatch.store import Store

    with ExitStack() as stack:
        if request.param == "postgres":
            from tests.conftest import throwaway_pg_database

            url = stack.enter_context(throwaway_pg_database(request.getfixturevalue("pg_server_url")))
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('ui-store') / 'store.db'}"
        store = Store(url)
        stack.callback(store.dispose)
        store.upgrade()
        fill_store(store)
        yield store


@pytest.fixture(scope="module")
def app(filled_store):  # type: ignore[no-untyped-def]
    from trialwatch_ui.app import create_app

    return create_app(filled_store)


@pytest.fixture(scope="module")
def server(app):  # type: ignore[no-untyped-def]
    """The app mounted under /trialwatch in a parent app, as the Airflow api-server mounts it."""
    from fastapi import FastAPI
    from trialwatch_ui.app import URL_PREFIX

    parent = FastAPI()
    parent.mount(URL_PREFIX, app)
    return parent


@pytest.fixture
def client(app, server) -> Iterator:  # type: ignore[no-untyped-def]
    """A client whose requests count as a logged-in Airflow user."""
    from fastapi.testclient import TestClient
    from trialwatch_ui.app import require_user

    app.dependency_overrides[require_user] = lambda: None
    try:
        with TestClient(server, base_url="http://testserver/trialwatch/") as test_client:
            yield test_client
    finally:
        app.dependency_overrides.clear()


@pytest.fixture
def anonymous(server) -> Iterator:  # type: ignore[no-untyped-def]
    """A client with no token and no cookie: the real Airflow authentication dependency decides."""
    from fastapi.testclient import TestClient

    with TestClient(server, base_url="http://testserver/trialwatch/") as test_client:
        yield test_client
