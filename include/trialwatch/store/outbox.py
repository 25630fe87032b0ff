"""The digest outbox: one row per (watchlist key, period, recipient), holding the exact bytes to send.

A combined digest (one email for a recipient on several watchlists) is keyed by the member names
joined with ``+`` in sorted order, so whichever watchlist's run prepares it first, the others find it.
Services get ids and plain dataclasses back, never ORM rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trialwatch.store.models import DigestOutbox

GROUP_SEPARATOR = "+"
EMAIL = "email"
KEY_MAX_CHARS = 100  # DigestOutbox.watchlist is String(100)


def group_key(names: list[str]) -> str:
    key = GROUP_SEPARATOR.join(sorted(set(names)))
    if len(key) > KEY_MAX_CHARS:
        raise ValueError(
            f"combined digest key {key!r} is longer than {KEY_MAX_CHARS} characters; "
            "shorten the watchlist names or set combine: false on some of them"
        )
    return key


def members(key: str) -> list[str]:
    return key.split(GROUP_SEPARATOR)


def _rows_including(session: Session, watchlist: str, recipient: str | None = None) -> list[DigestOutbox]:
    query = select(DigestOutbox).where(
        or_(DigestOutbox.watchlist == watchlist, DigestOutbox.watchlist.contains(GROUP_SEPARATOR))
    )
    if recipient is not None:
        query = query.where(DigestOutbox.recipient == recipient)
    return [row for row in session.scalars(query) if watchlist in members(row.watchlist)]


def cursor(session: Session, watchlist: str, recipient: str) -> int | None:
    """Highest event id already covered for this recipient by a digest of this watchlist."""
    ids = [row.last_event_id for row in _rows_including(session, watchlist, recipient) if row.last_event_id]
    return max(ids) if ids else None


def finding_cursor(session: Session, watchlist: str, recipient: str) -> int | None:
    """Highest sync run whose findings a digest of this watchlist already covered for this recipient."""
    runs = [
        row.last_finding_run_id
        for row in _rows_including(session, watchlist, recipient)
        if row.last_finding_run_id is not None
    ]
    return max(runs) if runs else None


def latest_covering(session: Session, watchlist: str, recipient: str, high_water: int) -> int | None:
    """Id of the newest digest for this recipient that already covers every event up to ``high_water``."""
    ids = [
        row.id
        for row in _rows_including(session, watchlist, recipient)
        if (row.last_event_id or 0) >= high_water
    ]
    return max(ids) if ids else None


def find(session: Session, key: str, period_key: str, recipient: str) -> int | None:
    """Id of the digest queued (or sent) under this key, if any."""
    row = _find(session, key, period_key, recipient)
    return row.id if row is not None else None


def _find(session: Session, key: str, period_key: str, recipient: str) -> DigestOutbox | None:
    return session.scalar(
        select(DigestOutbox).where(
            DigestOutbox.watchlist == key,
            DigestOutbox.period_key == period_key,
            DigestOutbox.recipient == recipient,
        )
    )


@dataclass(frozen=True)
class NewDigest:
    """A rendered digest to queue under (key, period_key, recipient)."""

    key: str
    period_key: str
    recipient: str
    message_id: str
    subject: str
    message: str  # the RFC 5322 bytes as ASCII text
    first_event_id: int | None
    last_event_id: int
    event_count: int
    last_finding_run_id: int | None = None


def queue(session: Session, digest: NewDigest, now: datetime) -> int:
    """Queue the digest; returns its id, or that of the row another run queued under the same key first."""
    row = DigestOutbox(
        watchlist=digest.key,
        period_key=digest.period_key,
        recipient=digest.recipient,
        message_id=digest.message_id,
        subject=digest.subject,
        status="queued",
        attempts=0,
        first_event_id=digest.first_event_id,
        last_event_id=digest.last_event_id,
        event_count=digest.event_count,
        last_finding_run_id=digest.last_finding_run_id,
        message=digest.message,
        created_at=now,
    )
    return insert_once(session, row).id


def insert_once(session: Session, row: DigestOutbox) -> DigestOutbox:
    """Insert the row, or return the one that another run inserted under the same key first."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        existing = _find(session, row.watchlist, row.period_key, row.recipient)
        if existing is None:
            raise
        return existing


# A sender that took a row and never finished (killed, crashed) loses it after this long.
CLAIM_LEASE = timedelta(minutes=15)
RETRYABLE = ("queued", "failed")


def _takeable(now: datetime) -> ColumnElement[bool]:
    return or_(
        DigestOutbox.status.in_(RETRYABLE),
        and_(DigestOutbox.status == "sending", DigestOutbox.claimed_at < now - CLAIM_LEASE),
    )


@dataclass(frozen=True)
class GivenUp:
    """A digest whose attempts are used up: kept in the outbox, reported on every run."""

    id: int
    recipient: str
    attempts: int
    last_error: str | None


def sendable(
    session: Session,
    *,
    watchlist: str | None,
    max_attempts: int,
    now: datetime,
    channel: str | Sequence[str] = EMAIL,
) -> tuple[list[int], list[GivenUp]]:
    """Ids of rows to send now (queued, failed under ``max_attempts``, or an expired claim) and rows given up on.

    Only rows of ``channel`` (one kind or several): the email sender never sees a webhook's JSON.
    """
    channels = [channel] if isinstance(channel, str) else list(channel)
    rows = list(
        session.scalars(
            select(DigestOutbox)
            .where(_takeable(now), DigestOutbox.channel.in_(channels))
            .order_by(DigestOutbox.id)
        )
    )
    if watchlist is not None:
        rows = [row for row in rows if watchlist in members(row.watchlist)]
    ready = [row.id for row in rows if row.attempts < max_attempts]
    exhausted = [
        GivenUp(row.id, row.recipient, row.attempts, row.last_error)
        for row in rows
        if row.attempts >= max_attempts
    ]
    return ready, exhausted


@dataclass(frozen=True)
class Claimed:
    id: int
    recipient: str
    message: str
    message_id: str


def claim(session: Session, row_id: int, now: datetime) -> Claimed | None:
    """Take the row for sending (committed by the caller), unless another sender has it.

    The row moves to "sending" in one conditional UPDATE, so two digest runs that both list a
    combined digest cannot both send it; a claim older than CLAIM_LEASE can be taken over.
    """
    result = session.execute(
        update(DigestOutbox)
        .where(DigestOutbox.id == row_id, _takeable(now))
        .values(status="sending", claimed_at=now, attempts=DigestOutbox.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    row = session.get(DigestOutbox, row_id)
    assert row is not None
    return Claimed(row.id, row.recipient, row.message, row.message_id)


def mark_sent(session: Session, row_id: int, when: datetime) -> None:
    session.execute(
        update(DigestOutbox)
        .where(DigestOutbox.id == row_id)
        .values(status="sent", sent_at=when, last_error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, row_id: int, error: str, *, count_attempt: bool = True) -> None:
    """Back to the queue with the error. ``count_attempt=False`` when no SMTP session could be opened:
    an outage of the mail server must not use up a digest's attempts."""
    values: dict[str, object] = {"status": "failed", "last_error": error[:2000], "claimed_at": None}
    if not count_attempt:
        values["attempts"] = DigestOutbox.attempts - 1
    session.execute(
        update(DigestOutbox)
        .where(DigestOutbox.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------------------------------------------
# Channels other than email (webhook, Slack, Teams): one row per (watchlist, period, "kind:connection"),
# holding the JSON body, so a retry posts the same bytes and the cursor works as for a recipient.


@dataclass(frozen=True)
class NewDelivery:
    """A rendered channel message to queue under (key, period_key, target)."""

    key: str
    period_key: str
    channel: str  # webhook | slack | teams
    target: str  # "kind:connection id"
    delivery_id: str
    subject: str
    body: str  # the JSON to post, exactly
    first_event_id: int | None
    last_event_id: int
    event_count: int


def queue_delivery(session: Session, delivery: NewDelivery, now: datetime) -> int:
    """Queue the message; returns its id, or that of the row another run queued under the same key first."""
    row = DigestOutbox(
        watchlist=delivery.key,
        period_key=delivery.period_key,
        recipient=delivery.target,
        channel=delivery.channel,
        message_id=delivery.delivery_id,
        subject=delivery.subject,
        status="queued",
        attempts=0,
        first_event_id=delivery.first_event_id,
        last_event_id=delivery.last_event_id,
        event_count=delivery.event_count,
        message=delivery.body,
        created_at=now,
    )
    return insert_once(session, row).id


def mark_rejected(session: Session, row_id: int, error: str) -> None:
    """The receiver refused the message for good (e.g. 404, 410): kept with the error, never taken again."""
    session.execute(
        update(DigestOutbox)
        .where(DigestOutbox.id == row_id)
        .values(status="rejected", last_error=error[:2000], claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def rejected(session: Session, *, watchlist: str | None, channels: Sequence[str]) -> list[GivenUp]:
    """Channel rows refused for good, reported on every run until a later message to the same channel
    is delivered (the channel was fixed)."""
    rows = list(
        session.scalars(
            select(DigestOutbox)
            .where(DigestOutbox.status.in_(("rejected", "sent")), DigestOutbox.channel.in_(list(channels)))
            .order_by(DigestOutbox.id)
        )
    )
    last_sent = {row.recipient: row.id for row in rows if row.status == "sent"}
    return [
        GivenUp(row.id, row.recipient, row.attempts, row.last_error)
        for row in rows
        if row.status == "rejected"
        and last_sent.get(row.recipient, 0) < row.id
        and (watchlist is None or watchlist in members(row.watchlist))
    ]
