"""Which events go to whom and when, and delivery through the outbox.

Selection: for each recipient of a watchlist, the events after that recipient's cursor (the highest
``last_event_id`` among the digests it already has for the watchlist) on the watchlist's trials, at or
above ``min_severity``, in its categories. A recipient with no digest yet starts with the events of
the last cadence period (``FIRST_DIGEST_LOOKBACK``) rather than the whole history.

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
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.orm import Session

from trialwatch.diff import LEFT_QUERY_PATH
from trialwatch.events import SEVERITIES, at_least
from trialwatch.store.models import ChangeEventRow, DigestOutbox, Study, SyncRun, WatchlistTrial
from trialwatch.store.repository import event_from_row

from . import outbox
from .message import build_message, list_id_for, message_bytes, message_id_for, sanitise_header
from .render import (
    HealthView,
    StoredEvent,
    TrialInfo,
    digest_view,
    render_csv,
    render_html,
    render_text,
)
from .smtp import SmtpConnection, SmtpRecipientRefused, SmtpSessionError, SmtpSettings, SmtpTransportError

log = logging.getLogger(__name__)

FIRST_DIGEST_LOOKBACK: dict[str, timedelta] = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
DEFAULT_SENDER = "trialwatch@localhost"
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


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


# ---------------------------------------------------------------------------------------------------
# Selection


def period_key(cadence: str, now: datetime) -> str:
    if cadence == "daily":
        return now.date().isoformat()
    if cadence == "weekly":
        year, week, _ = now.isocalendar()
        return f"{year}-W{week:02d}"
    raise ValueError(f"unknown cadence {cadence!r}; expected 'daily' or 'weekly'")


def _period_label(period: str) -> str:
    if period.startswith("immediate-"):
        return "immediate alert"
    return f"{'weekly' if '-W' in period else 'daily'} digest {period}"


def _severities_from(minimum: str) -> list[str]:
    if minimum not in SEVERITIES:
        raise ValueError(f"unknown severity {minimum!r}; expected one of {SEVERITIES}")
    return [severity for severity in SEVERITIES if at_least(severity, minimum)]


def _watched_filter(watchlist: Any) -> Any:
    # A trial's events count for a watchlist while it is on it: none after it left.
    watched = exists().where(
        WatchlistTrial.watchlist == watchlist.name,
        WatchlistTrial.nct_id == ChangeEventRow.nct_id,
        or_(WatchlistTrial.left_at.is_(None), ChangeEventRow.detected_at <= WatchlistTrial.left_at),
    )
    listed = tuple(getattr(watchlist, "nct_ids", ()) or ())
    return or_(watched, ChangeEventRow.nct_id.in_(listed)) if listed else watched


def _to_stored(row: ChangeEventRow) -> StoredEvent:
    return StoredEvent(event_from_row(row), id=row.id, detected_at=row.detected_at)


def select_events(
    session: Session,
    watchlist: Any,
    *,
    after_id: int | None,
    up_to_id: int,
    since: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[StoredEvent]:
    """The watchlist's events in (after_id, up_to_id], filtered by its severity floor and categories."""
    query = select(ChangeEventRow).where(
        _watched_filter(watchlist),
        ChangeEventRow.id <= up_to_id,
        ChangeEventRow.severity.in_(_severities_from(watchlist.min_severity)),
        # A newly watched trial's past versions fill its timeline; they are not news.
        ChangeEventRow.backfill.is_(False),
    )
    if after_id is not None:
        query = query.where(ChangeEventRow.id > after_id)
    elif since is not None:
        query = query.where(ChangeEventRow.detected_at >= since)
    categories = tuple(getattr(watchlist, "categories", ()) or ())
    if categories:
        query = query.where(ChangeEventRow.category.in_(categories))
    query = query.order_by(ChangeEventRow.id.desc() if newest_first else ChangeEventRow.id)
    if limit is not None:
        query = query.limit(limit)
    return [_to_stored(row) for row in session.scalars(query) if _concerns(row, watchlist.name)]


def _concerns(row: ChangeEventRow, watchlist: str) -> bool:
    """A "left the query" event belongs to the watchlist whose query it left, not to every one watching."""
    return row.path != LEFT_QUERY_PATH or (row.extra or {}).get("watchlist") == watchlist


def trial_info(session: Session, nct_ids: set[str]) -> dict[str, TrialInfo]:
    info: dict[str, TrialInfo] = {}
    ids = sorted(nct_ids)
    for start in range(0, len(ids), 500):
        for study in session.scalars(select(Study).where(Study.nct_id.in_(ids[start : start + 500]))):
            info[study.nct_id] = TrialInfo(title=study.title or "", status=study.overall_status)
    return info


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def pipeline_health(
    session: Session, watched: set[str] | None = None, extra_notes: Sequence[str] = ()
) -> HealthView:
    """The footer: registry data timestamp, last and last successful sync, fetch failures, notes."""
    # A run skipped because another sync held the lease did nothing: it is not the last sync.
    finished = select(SyncRun).where(SyncRun.finished_at.is_not(None), SyncRun.status != "skipped")
    last = session.scalar(finished.order_by(SyncRun.started_at.desc()).limit(1)) or session.scalar(
        select(SyncRun).where(SyncRun.status != "skipped").order_by(SyncRun.started_at.desc()).limit(1)
    )
    success = session.scalar(
        finished.where(SyncRun.status == "ok").order_by(SyncRun.started_at.desc()).limit(1)
    )
    health = HealthView(notes=[" ".join(str(note).split()) for note in extra_notes if note])
    if last is None:
        health.notes.insert(0, "no sync has been recorded yet")
        return health
    # A run that failed before asking the registry has no data build: show the last one seen.
    health.data_timestamp = last.data_timestamp or session.scalar(
        select(SyncRun.data_timestamp)
        .where(SyncRun.data_timestamp.is_not(None))
        .order_by(SyncRun.started_at.desc())
        .limit(1)
    )
    health.last_sync_at = _when(last.finished_at or last.started_at)
    health.last_sync_status = last.status
    health.last_success_at = _when(success.finished_at) if success else None
    for failure in last.failures or []:
        nct_id = str((failure or {}).get("nct_id") or "")
        if watched is not None and nct_id and nct_id not in watched:
            continue
        error = " ".join(str((failure or {}).get("error") or "unknown error").split())
        health.failures.append((nct_id or "(whole sync)", error[:300]))
    health.notes = [" ".join(str(note).split()) for note in (last.notes or [])] + health.notes
    return health


def _watched_ids(session: Session, watchlists: Sequence[Any]) -> set[str]:
    names = [w.name for w in watchlists]
    ids = set(session.scalars(select(WatchlistTrial.nct_id).where(WatchlistTrial.watchlist.in_(names))))
    for w in watchlists:
        ids.update(getattr(w, "nct_ids", ()) or ())
    return ids


# ---------------------------------------------------------------------------------------------------
# Planning


def _check_recipient(watchlist: Any, recipient: str) -> str:
    address = str(recipient).strip()
    if not _ADDRESS.match(address):
        raise ValueError(f"watchlist {watchlist.name!r}: recipient {recipient!r} is not an email address")
    return address


def _find(watchlists: Sequence[Any], name: str) -> Any:
    for candidate in watchlists:
        if candidate.name == name:
            return candidate
    known = ", ".join(sorted(w.name for w in watchlists)) or "none"
    raise KeyError(f"no watchlist named {name!r} (known: {known})")


def _combined_group(target: Any, watchlists: Sequence[Any], recipient: str) -> list[Any]:
    if not getattr(target, "combine", False):
        return [target]
    group = [
        w
        for w in watchlists
        if getattr(w, "combine", False) and w.cadence == target.cadence and recipient in w.recipients
    ]
    return sorted(group, key=lambda w: w.name) or [target]


def _render(
    session: Session,
    *,
    key: str,
    period: str,
    recipient: str,
    sections: list[tuple[Any, list[StoredEvent]]],
    high_water: int,
    now: datetime,
    notes: Sequence[str],
    sender: str,
) -> PlannedDigest:
    items = [item for _, items in sections for item in items]
    trials = trial_info(session, {item.event.nct_id for item in items})
    health = pipeline_health(session, _watched_ids(session, [w for w, _ in sections]), notes)
    heading = " + ".join(str(getattr(w, "title", "") or w.name) for w, _ in sections)
    view = digest_view(
        heading=heading,
        sections=sections,
        trials=trials,
        health=health,
        period_label=_period_label(period),
        generated_at=now,
    )
    html, text, csv_text = render_html(view), render_text(view), render_csv(items, trials)
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
    )


def _pending(session: Session, w: Any, recipient: str, high_water: int, now: datetime) -> list[StoredEvent]:
    after = outbox.cursor(session, w.name, recipient)
    since = None if after is not None else now - FIRST_DIGEST_LOOKBACK.get(w.cadence, timedelta(days=1))
    return select_events(session, w, after_id=after, up_to_id=high_water, since=since)


def _plan(
    session: Session,
    target: Any,
    watchlists: Sequence[Any],
    recipient: str,
    *,
    high_water: int,
    now: datetime,
    notes: Sequence[str],
    sender: str,
    skip_if_period_done: bool,
) -> tuple[PlannedDigest | None, DigestOutbox | None]:
    """The digest this recipient should get now, or the existing row that already stands for it."""
    own = _pending(session, target, recipient, high_water, now)
    immediate = getattr(target, "immediate_severity", None)
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
        )
        return planned, None

    group = _combined_group(target, watchlists, recipient)
    key = outbox.group_key([w.name for w in group])
    period = period_key(target.cadence, now)
    existing = outbox.find(session, key, period, recipient)
    if existing is not None and skip_if_period_done:
        return None, existing
    sections = (
        [(target, own)]
        if group == [target]
        else [(w, own if w is target else _pending(session, w, recipient, high_water, now)) for w in group]
    )
    sections = [(w, items) for w, items in sections if items]
    if not sections:
        covering = outbox.latest_covering(session, target.name, recipient, high_water)
        return None, covering
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
    )
    return planned, None


def _sender() -> str:
    return os.environ.get("TRIALWATCH_MAIL_FROM") or DEFAULT_SENDER


def _settled_high_water(session: Session) -> int:
    """The highest event id below which no event can still appear.

    PostgreSQL hands out ids before commit, so a sync still writing could commit a lower id after a
    digest moved its cursor past it. A SHARE lock waits for those writers to finish (SQLite's
    BEGIN IMMEDIATE already serialises writers).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE change_events IN SHARE MODE"))
    return session.scalar(select(func.max(ChangeEventRow.id))) or 0


def prepare_digests(
    store: Any,
    watchlists: list[Any],
    *,
    watchlist: str,
    now: datetime | None = None,
    base_url_note: str | None = None,
) -> list[int]:
    """Render and queue this watchlist's digests; returns the outbox ids that stand for them.

    Idempotent: a re-run queues nothing new and returns the ids of the rows already queued (or sent)
    for these events. No pending events for a recipient → no row, no email.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    target = _find(watchlists, watchlist)
    recipients = list(dict.fromkeys(_check_recipient(target, r) for r in target.recipients))
    notes = [base_url_note] if base_url_note else []
    ids: list[int] = []
    with store.session() as session:
        high_water = _settled_high_water(session)
        for recipient in recipients:
            planned, existing = _plan(
                session,
                target,
                watchlists,
                recipient,
                high_water=high_water,
                now=now,
                notes=notes,
                sender=_sender(),
                skip_if_period_done=True,
            )
            if existing is not None:
                ids.append(existing.id)
                continue
            if planned is None:
                continue
            row = outbox.insert_once(
                session,
                DigestOutbox(
                    watchlist=planned.key,
                    period_key=planned.period_key,
                    recipient=recipient,
                    message_id=message_id_for(planned.key, planned.period_key, recipient),
                    subject=planned.subject,
                    status="queued",
                    attempts=0,
                    first_event_id=planned.first_event_id,
                    last_event_id=planned.last_event_id,
                    event_count=planned.event_count,
                    message=planned.message.decode("ascii"),
                    created_at=now,
                ),
            )
            ids.append(row.id)
            log.info(
                "queued digest %s %s for %s (%d events)",
                planned.key,
                planned.period_key,
                recipient,
                planned.event_count,
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
    store: Any,
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


def preview(store: Any, watchlists: list[Any], *, watchlist: str, out_dir: Path) -> list[Path]:
    """Write the next digest (.eml, .html, .txt, .csv) and the watchlist's Atom feed; sends and marks nothing.

    Shows the first recipient's digest (or a placeholder address when the watchlist has none). With
    nothing pending the files say so.
    """
    from .feed import atom_feed

    target = _find(watchlists, watchlist)
    recipient = _check_recipient(target, target.recipients[0]) if target.recipients else "preview@localhost"
    now = datetime.now(UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with store.session() as session:
        high_water = session.scalar(select(func.max(ChangeEventRow.id))) or 0
        planned, _ = _plan(
            session,
            target,
            watchlists,
            recipient,
            high_water=high_water,
            now=now,
            notes=[],
            sender=_sender(),
            skip_if_period_done=False,
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
                sender=_sender(),
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
