"""One digest email from data already selected: the view, its HTML, text and CSV, and the MIME message.

Pure: no store, no network, no clock (``now`` is passed in), so a digest is a function of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from trialwatch.events import StoredEvent
from trialwatch.records import TrialInfo
from trialwatch.watchlists import Watchlist

from .message import build_message, list_id_for, message_bytes, message_id_for, sanitise_header
from .render import FindingsView, HealthView, fitted_digest, render_csv, render_text
from .selection import period_label

Section = tuple[Watchlist, list[StoredEvent]]


@dataclass
class PlannedDigest:
    """One digest ready to queue (or to preview)."""

    key: str
    period_key: str
    recipient: str
    subject: str
    message: bytes
    text: str
    html: str
    csv: str
    first_event_id: int | None
    last_event_id: int
    event_count: int
    last_finding_run_id: int | None = None
    finding_count: int = 0


def compose(
    *,
    key: str,
    period: str,
    recipient: str,
    sections: Sequence[Section],
    trials: dict[str, TrialInfo],
    health: HealthView,
    high_water: int,
    now: datetime,
    sender: str,
    ui_url: str | None = None,
    findings: FindingsView | None = None,
    finding_high_water: int | None = None,
) -> PlannedDigest:
    """The digest for ``recipient`` under (key, period) with these sections; covers events up to ``high_water``.

    The HTML part stays under the size budget (a big digest shows its most severe changes in full and
    counts the rest, linking each trial to Trial Watch at ``ui_url``); the CSV keeps every event.
    """
    items = [item for _, items in sections for item in items]
    heading = " + ".join(str(w.title or w.name) for w, _ in sections)
    view, html = fitted_digest(
        heading=heading,
        sections=sections,
        trials=trials,
        health=health,
        period_label=period_label(period),
        generated_at=now,
        ui_url=ui_url,
        findings=findings,
    )
    text, csv_text = render_text(view), render_csv(items, trials, findings)
    message = build_message(
        sender=sender,
        recipient=recipient,
        subject=view.subject,
        text=text,
        html=html,
        csv_text=csv_text,
        csv_filename=f"trialwatch-{key}-{period}.csv",
        message_id=message_id_for(key, period, recipient),
        list_id=list_id_for(key),
        list_name=heading,
        date=now,
    )
    ids = [item.id for item in items if item.id is not None]
    return PlannedDigest(
        key=key,
        period_key=period,
        recipient=recipient,
        subject=sanitise_header(view.subject),
        message=message_bytes(message),
        text=text,
        html=html,
        csv=csv_text,
        first_event_id=min(ids) if ids else None,
        last_event_id=high_water,
        event_count=len(items),
        last_finding_run_id=finding_high_water,
        finding_count=findings.count if findings else 0,
    )
