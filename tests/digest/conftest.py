"""Digest fixtures: events built from real registry records, watchlists, and a real SMTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from trialwatch.events import ChangeEvent
from trialwatch.findings import CODES as FINDING_CODES
from trialwatch.store.models import Study, SyncRun, WatchlistTrial
from trialwatch.store.repository import event_row

SAMPLES = Path(__file__).resolve().parents[2] / "include" / "trialwatch" / "replay" / "data" / "samples"
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
SENDER = "trialwatch@localhost"
HOSTILE_TITLE = "<script>alert(1)</script> Phase 2 of CAR-NK\r\nBcc: victim@example.org"


@dataclass
class Watchlist:
    """The shape of trialwatch.watchlists.Watchlist that the digest relies on."""

    name: str
    title: str
    nct_ids: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ("ana@example.org",)
    description: str = ""
    cadence: str = "daily"
    immediate_severity: str | None = "critical"
    min_severity: str = "minor"
    categories: tuple[str, ...] = ()
    thresholds: dict[str, Any] = field(default_factory=dict)
    combine: bool = True
    path: Path = Path("watchlist.yaml")
    queries: tuple[Any, ...] = ()
    channels: tuple[Any, ...] = ()
    findings: tuple[str, ...] = FINDING_CODES


def record(nct_id: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"study_{nct_id}.json").read_text())["protocolSection"]


def sample_events() -> list[ChangeEvent]:
    """Changes between a plausible earlier version and the real current record (values from the record)."""
    events: list[ChangeEvent] = []

    a = record("NCT03934567")
    status = a["statusModule"]
    sites = a["contactsLocationsModule"]["locations"]
    site_list = [{k: s.get(k) for k in ("facility", "city", "country")} for s in sites]
    criteria = a["eligibilityModule"]["eligibilityCriteria"]
    criteria_lines = criteria.splitlines()
    old_criteria = "\n".join(criteria_lines[:3] + ["* Age 18 to 70 years"] + criteria_lines[4:])
    versions_a = {
        "nct_id": "NCT03934567",
        "old_version": 14,
        "new_version": 15,
        "new_version_date": "2025-03-04",
    }
    events += [
        ChangeEvent(
            "status",
            "Overall status",
            "RECRUITING",
            status["overallStatus"],
            "critical",
            path="protocolSection.statusModule.overallStatus",
            **versions_a,
        ),
        ChangeEvent(
            "enrollment",
            "Enrollment",
            {"count": 120, "type": "ESTIMATED"},
            a["designModule"]["enrollmentInfo"],
            "major",
            detail="ESTIMATED → ACTUAL",
            **versions_a,
        ),
        ChangeEvent(
            "dates",
            "Primary completion date",
            {"date": "2024-10-31", "type": "ESTIMATED"},
            status["primaryCompletionDateStruct"],
            "major",
            **versions_a,
        ),
        ChangeEvent(
            "sites",
            "Locations",
            site_list[:-2],
            site_list,
            "minor",
            extra={"added": site_list[-2:], "removed": []},
            nct_id="NCT03934567",
            old_version=13,
            new_version=14,
            new_version_date="2024-11-20",
        ),
        ChangeEvent(
            "eligibility",
            "Eligibility criteria",
            old_criteria,
            criteria,
            "major",
            nct_id="NCT03934567",
            old_version=13,
            new_version=14,
            new_version_date="2024-11-20",
        ),
    ]

    b = record("NCT06171568")
    versions_b = {
        "nct_id": "NCT06171568",
        "old_version": 3,
        "new_version": 4,
        "new_version_date": "2024-06-12",
    }
    events += [
        ChangeEvent(
            "status",
            "Overall status",
            b["statusModule"]["overallStatus"],
            "RECRUITING",
            "major",
            **versions_b,
        ),
        ChangeEvent(
            "dates",
            "Start date",
            b["statusModule"]["startDateStruct"],
            {"date": "2024-09-01", "type": "ESTIMATED"},
            "minor",
            **versions_b,
        ),
        ChangeEvent("contacts", "Central contact", "old desk", "new desk", "info", **versions_b),
    ]

    c = record("NCT03475563")
    events.append(
        ChangeEvent(
            "status",
            "Overall status",
            "RECRUITING",
            c["statusModule"]["overallStatus"],
            "minor",
            detail='see <a href="https://evil.example/x">here</a>',
            nct_id="NCT03475563",
            old_version=4,
            new_version=5,
            new_version_date="2020-01-15",
        )
    )
    return events


def seed(store: Any, *, detected_at: datetime = NOW - timedelta(hours=1)) -> list[int]:
    """Studies, watchlist membership, events and two sync runs, as the sync would leave them."""
    ids = []
    with store.session() as session:
        for nct_id in ("NCT03934567", "NCT06171568", "NCT03475563", "NCT00184067"):
            data = record(nct_id)
            title = HOSTILE_TITLE if nct_id == "NCT03475563" else data["identificationModule"]["briefTitle"]
            session.add(
                Study(
                    nct_id=nct_id,
                    title=title,
                    overall_status=data["statusModule"]["overallStatus"],
                    first_seen_at=NOW - timedelta(days=30),
                )
            )
            session.add(
                WatchlistTrial(
                    watchlist="nk",
                    nct_id=nct_id,
                    via="id",
                    first_seen_at=NOW - timedelta(days=30),
                    last_seen_at=NOW,
                )
            )
        session.add(
            SyncRun(
                started_at=NOW - timedelta(days=1, hours=2),
                finished_at=NOW - timedelta(days=1, hours=1),
                status="ok",
                data_timestamp="2026-11-22T09:00:03",
                failures=[],
                notes=[],
            )
        )
        session.add(
            SyncRun(
                started_at=NOW - timedelta(hours=2),
                finished_at=NOW - timedelta(hours=1),
                status="partial",
                data_timestamp="2026-11-23T09:00:05",
                failures=[
                    {"nct_id": "NCT00184067", "error": "HTTP 503 after 5 tries"},
                    {"nct_id": "NCT09999999", "error": "not on this watchlist"},
                ],
                notes=["version history unavailable for NCT06171568, fell back to current-version diffs"],
            )
        )
        session.flush()
        for event in sample_events():
            ids.append(add_event(session, event, detected_at))
    return ids


def add_event(session: Any, event: ChangeEvent, detected_at: datetime = NOW - timedelta(hours=1)) -> int:
    row = event_row(event, now=detected_at)
    session.add(row)
    session.flush()
    return row.id


@pytest.fixture
def seeded(store: Any) -> Any:
    seed(store)
    return store


# ---------------------------------------------------------------------------------------------------
# A real SMTP server on loopback


class RecordingHandler:
    """Keeps every accepted message; can refuse recipients and drop the line after storing a message."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.refuse: set[str] = set()
        self.drop_after_data = 0  # how many more DATA commands to answer by hanging up
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, envelope.original_content or envelope.content))
            drop = self.drop_after_data > 0
            if drop:
                self.drop_after_data -= 1
        if drop:
            # Stored, but the client never hears "250": it cannot know the message arrived.
            server.transport.abort()
            return "421 4.3.0 connection dropped"
        return "250 OK"

    def messages_for(self, recipient: str) -> list[EmailMessage]:
        return [
            message_from_bytes(data, policy=policy.SMTP) for rcpt, data in self.received if rcpt == recipient
        ]


class LoopbackController(Controller):
    """aiosmtpd's Controller on an ephemeral port (it otherwise probes the port it was given)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, LoopbackController]]:
    handler = RecordingHandler()
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield handler, controller
    finally:
        controller.stop()
