"""The digest service: plan, queue, send and preview watchlist digests through the outbox.

Selection (which events, for whom) is in ``selection``, the email itself in ``compose``, every query in
``trialwatch.store.digests`` and ``trialwatch.store.outbox``.

Timing: ``prepare_digests`` is meant to run after every sync. If a pending event is at or above the
watchlist's ``immediate_severity``, the digest goes out now (period ``immediate-<last event id>``) with
everything pending, so nothing is held back or sent twice. Otherwise the first run in a cadence period
(a date for daily, an ISO week for weekly) makes that period's digest; events found later in the same
period wait for the next one.

Delivery is at least once. Each row holds the rendered message; ``send_queued`` counts the attempt,
sends, then marks the row sent in its own transaction. If the process dies after the server accepted
the message but before that commit, the next run sends the same bytes again with the same Message-ID
(derived from watchlist, period and recipient): the recipient may hold two identical copies, which
mail clients that thread or deduplicate by Message-ID collapse into one. Exactly-once is impossible
over SMTP; this is the honest bound.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trialwatch.events import at_least
from trialwatch.findings import Finding
from trialwatch.store import digests as stored
from trialwatch.store import findings as stored_findings
from trialwatch.store import outbox
from trialwatch.store.db import Store
from trialwatch.watchlists import Watchlist

from .compose import PlannedDigest, Section, compose
from .feed import atom_feed
from .message import message_id_for, sanitise_header
from .render import findings_view
from .selection import (
    check_recipient,
    combined_group,
    find_watchlist,
    pending,
    pending_findings,
    period_key,
    pipeline_health,
    watched_ids,
)
from .smtp import SmtpConnection, SmtpRecipientRefused, SmtpSessionError, SmtpSettings, SmtpTransportError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session  # a type only: every query is in trialwatch.store


log = logging.getLogger(__name__)


class DigestDeliveryError(RuntimeError):
    """Some digests could not be delivered; the others were sent. Carries the full report."""

    def __init__(self, report: SendReport) -> None:
        names = ", ".join(f"{recipient} ({error})" for recipient, error in report.failed)
        super().__init__(f"{len(report.failed)} digest(s) not delivered, will retry: {names}")
        self.report = report


@dataclass
class SendReport:
    sent: list[tuple[int, str]] = field(default_factory=list)  # (outbox id, recipient)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (recipient, error)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (outbox id, recipient): attempts used up


# ---------------------------------------------------------------------------------------------------
# Planning


def _render(
    session: Session,
    *,
    key: str,
    period: str,
    recipient: str,
    sections: list[Section],
    high_water: int,
    now: datetime,
    notes: Sequence[str],
    sender: str,
    ui_url: str | None = None,
    findings: tuple[list[Finding], list[Finding]] = ([], []),
    finding_high_water: int | None = None,
) -> PlannedDigest:
    items = [item for _, items in sections for item in items]
    new, resolved = findings
    trial_ids = {item.event.nct_id for item in items} | {f.nct_id for f in (*new, *resolved)}
    trials = stored.trial_info(session, trial_ids)
    return compose(
        key=key,
        period=period,
        recipient=recipient,
        sections=sections,
        trials=trials,
        health=pipeline_health(session, watched_ids(session, [w for w, _ in sections]), notes),
        high_water=high_water,
        now=now,
        sender=sender,
        ui_url=ui_url,
        findings=findings_view(new, resolved, trials, ui_url),
        finding_high_water=finding_high_water,
    )


def _group_findings(
    session: Session, group: Sequence[Watchlist], recipient: str, finding_high_water: int, now: datetime
) -> tuple[list[Finding], list[Finding]]:
    """The pending findings of every watchlist in the group, each finding once."""
    new: dict[str, Finding] = {}
    resolved: dict[str, Finding] = {}
    for watchlist in group:
        opened, closed = pending_findings(session, watchlist, recipient, finding_high_water, now)
        for finding in opened:
            new.setdefault(finding.key, finding)
        for finding in closed:
            resolved.setdefault(finding.key, finding)
    return list(new.values()), list(resolved.values())


def _plan(
    session: Session,
    target: Watchlist,
    watchlists: Sequence[Watchlist],
    recipient: str,
    *,
    high_water: int,
    now: datetime,
    notes: Sequence[str],
    sender: str,
    ui_url: str | None = None,
    skip_if_period_done: bool,
    finding_high_water: int = 0,
) -> tuple[PlannedDigest | None, int | None]:
    """The digest this recipient should get now, or the id of the existing row that already stands for it."""
    own = pending(session, target, recipient, high_water, now)
    immediate = target.immediate_severity
    if immediate and any(at_least(item.event.severity, immediate) for item in own):
        period = f"immediate-{high_water}"
        existing = outbox.find(session, target.name, period, recipient)
        if existing is not None and skip_if_period_done:
            return None, existing
        planned = _render(
            session,
            key=target.name,
            period=period,
            recipient=recipient,
            sections=[(target, own)],
            high_water=high_water,
            now=now,
            notes=notes,
            sender=sender,
            ui_url=ui_url,
            findings=_group_findings(session, [target], recipient, finding_high_water, now),
            finding_high_water=finding_high_water,
        )
        return planned, None

    group = combined_group(target, watchlists, recipient)
    key = outbox.group_key([w.name for w in group])
    period = period_key(target.cadence, now)
    existing = outbox.find(session, key, period, recipient)
    if existing is not None and skip_if_period_done:
        return None, existing
    sections: list[Section] = (
        [(target, own)]
        if group == [target]
        else [(w, own if w is target else pending(session, w, recipient, high_water, now)) for w in group]
    )
    sections = [(w, items) for w, items in sections if items]
    findings = _group_findings(session, group, recipient, finding_high_water, now)
    if not sections and not any(findings):
        covering = outbox.latest_covering(session, target.name, recipient, high_water)
        return None, covering
    if not sections:  # findings only: the digest still carries the watchlist's heading
        sections = [(target, [])] if group == [target] else [(w, []) for w in group]
    planned = _render(
        session,
        key=key,
        period=period,
        recipient=recipient,
        sections=sections,
        high_water=high_water,
        now=now,
        notes=notes,
        sender=sender,
        ui_url=ui_url,
        findings=findings,
        finding_high_water=finding_high_water,
    )
    return planned, None


def prepare_digests(
    store: Store,
    watchlists: list[Watchlist],
    *,
    watchlist: str,
    sender: str,
    ui_url: str | None = None,
    now: datetime | None = None,
    base_url_note: str | None = None,
) -> list[int]:
    """Render and queue this watchlist's digests; returns the outbox ids that stand for them.

    Idempotent: a re-run queues nothing new and returns the ids of the rows already queued (or sent)
    for these events. No pending events for a recipient → no row, no email.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    target = find_watchlist(watchlists, watchlist)
    recipients = list(dict.fromkeys(check_recipient(target, r) for r in target.recipients))
    notes = [base_url_note] if base_url_note else []
    ids: list[int] = []
    with store.session() as session:
        high_water = stored.settled_high_water(session)
        finding_high_water = stored_findings.findings_high_water(session)
        for recipient in recipients:
            planned, existing = _plan(
                session,
                target,
                watchlists,
                recipient,
                high_water=high_water,
                now=now,
                notes=notes,
                sender=sender,
                ui_url=ui_url,
                skip_if_period_done=True,
                finding_high_water=finding_high_water,
            )
            if existing is not None:
                ids.append(existing)
                continue
            if planned is None:
                continue
            queued = outbox.NewDigest(
                key=planned.key,
                period_key=planned.period_key,
                recipient=recipient,
                message_id=message_id_for(planned.key, planned.period_key, recipient),
                subject=planned.subject,
                message=planned.message.decode("ascii"),
                first_event_id=planned.first_event_id,
                last_event_id=planned.last_event_id,
                event_count=planned.event_count,
                last_finding_run_id=planned.last_finding_run_id,
            )
            ids.append(outbox.queue(session, queued, now))
            log.info(
                "queued digest %s %s for %s (%d events, %d findings)",
                planned.key,
                planned.period_key,
                recipient,
                planned.event_count,
                planned.finding_count,
            )
    return list(dict.fromkeys(ids))


# ---------------------------------------------------------------------------------------------------
# Sending


def _with_sender(message: str, sender: str) -> bytes:
    """The stored bytes with the From header set to the configured sender; every other byte as stored."""
    data = message.encode("ascii")
    head, separator, body = data.partition(b"\r\n\r\n")
    from_line = b"From: " + sanitise_header(sender, limit=320).encode("ascii")
    lines = [from_line if line.lower().startswith(b"from:") else line for line in head.split(b"\r\n")]
    return b"\r\n".join(lines) + separator + body


def send_queued(
    store: Store,
    smtp: SmtpSettings,
    *,
    watchlist: str | None = None,
    max_attempts: int = 10,
) -> SendReport:
    """Send every queued (or failed, under ``max_attempts``) digest; raise at the end if any failed.

    Each row is marked in its own transaction, so a refusal or a broken connection for one recipient
    does not stop or undo the others. See the module docstring for the at-least-once bound.
    """
    report = SendReport()
    with store.session() as session:
        ready, exhausted = outbox.sendable(
            session, watchlist=watchlist, max_attempts=max_attempts, now=datetime.now(UTC)
        )
        report.skipped = [(row.id, row.recipient) for row in exhausted]
    for row in exhausted:
        # Kept in the outbox (and in Trial Watch's digest list); the task fails below so it is seen.
        log.error(
            "digest %s for %s gave up after %d refused attempts: %s",
            row.id,
            row.recipient,
            row.attempts,
            row.last_error,
        )
        report.failed.append((row.recipient, f"given up after {row.attempts} attempts: {row.last_error}"))

    connection = SmtpConnection(smtp)
    unreachable: str | None = None
    try:
        for row_id in ready:
            with store.session() as session:
                claimed = outbox.claim(session, row_id, datetime.now(UTC))
            if claimed is None:
                continue
            error: str | None = unreachable
            if error is None:
                try:
                    connection.send(claimed.recipient, _with_sender(claimed.message, smtp.from_email))
                except SmtpSessionError as exc:
                    # No session at all: the remaining digests would fail the same way; say so once each.
                    error = unreachable = str(exc)
                except (SmtpRecipientRefused, SmtpTransportError) as exc:
                    error = str(exc)
            with store.session() as session:
                if error is None:
                    outbox.mark_sent(session, claimed.id, datetime.now(UTC))
                else:
                    outbox.mark_failed(session, claimed.id, error, count_attempt=unreachable is None)
            if error is None:
                report.sent.append((claimed.id, claimed.recipient))
                log.info("sent digest %s to %s", claimed.message_id, claimed.recipient)
            else:
                report.failed.append((claimed.recipient, error))
                log.warning("digest %s to %s failed: %s", claimed.message_id, claimed.recipient, error)
    finally:
        connection.close()
    if report.failed:
        raise DigestDeliveryError(report)
    return report


# ---------------------------------------------------------------------------------------------------
# Preview


def preview(
    store: Store,
    watchlists: list[Watchlist],
    *,
    watchlist: str,
    sender: str,
    out_dir: Path,
    ui_url: str | None = None,
) -> list[Path]:
    """Write the next digest (.eml, .html, .txt, .csv) and the watchlist's Atom feed; sends and marks nothing.

    Shows the first recipient's digest (or a placeholder address when the watchlist has none). With
    nothing pending the files say so.
    """
    target = find_watchlist(watchlists, watchlist)
    recipient = check_recipient(target, target.recipients[0]) if target.recipients else "preview@localhost"
    now = datetime.now(UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with store.session() as session:
        high_water = stored.high_water(session)
        finding_high_water = stored_findings.findings_high_water(session)
        planned, _ = _plan(
            session,
            target,
            watchlists,
            recipient,
            high_water=high_water,
            now=now,
            notes=[],
            sender=sender,
            ui_url=ui_url,
            skip_if_period_done=False,
            finding_high_water=finding_high_water,
        )
        if planned is None:
            planned = _render(
                session,
                key=target.name,
                period=period_key(target.cadence, now),
                recipient=recipient,
                sections=[(target, [])],
                high_water=high_water,
                now=now,
                notes=["no changes since the last digest"],
                sender=sender,
                ui_url=ui_url,
            )
        session.rollback()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{planned.key}-{planned.period_key}")
    files = {
        ".eml": planned.message,
        ".html": planned.html.encode("utf-8"),
        ".txt": planned.text.encode("utf-8"),
        ".csv": planned.csv.encode("utf-8"),
    }
    paths = []
    for suffix, data in files.items():
        path = out_dir / f"{stem}{suffix}"
        path.write_bytes(data)
        paths.append(path)
    feed_path = out_dir / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', target.name)}.atom.xml"
    feed_path.write_text(atom_feed(store, target), encoding="utf-8")
    paths.append(feed_path)
    return paths
