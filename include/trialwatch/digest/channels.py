"""Digests to webhooks, Slack and Microsoft Teams, through the same outbox as email.

Each watchlist channel (``webhook``, ``slack`` or ``teams`` naming an Airflow connection) gets one
outbox row per period, keyed (watchlist, period, ``kind:connection``) like an email recipient, so it
has its own cursor: a failing channel neither blocks nor repeats the others. The row holds the JSON
body exactly as it will be posted, so a retry posts the same bytes; the delivery id (derived from the
key) goes in ``X-Trialwatch-Delivery`` so a receiver can drop a repeat.

Generic webhooks are signed: ``X-Trialwatch-Timestamp`` is the Unix time of the post and
``X-Trialwatch-Signature`` is ``sha256=`` + the hex HMAC-SHA256, keyed with the connection's password,
of ``<timestamp>.<body>`` (the timestamp, a dot, the body bytes). Signing the timestamp lets the
receiver refuse old replays.

Delivery is at least once per channel, like email: a crash after the receiver accepted but before
the row is marked sent posts it again with the same delivery id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import requests

from trialwatch.events import SEVERITIES, SEVERITY_RANK, StoredEvent, at_least
from trialwatch.store import digests as stored
from trialwatch.store import outbox
from trialwatch.store.db import Store
from trialwatch.watchlists import CHANNEL_KINDS, Channel, Watchlist

from .render import NCT_ID, change_view, registry_link
from .selection import find_watchlist, pending, period_key, period_label

if TYPE_CHECKING:
    from sqlalchemy.orm import Session  # a type only: every query is in trialwatch.store

log = logging.getLogger(__name__)

DELIVERY_HEADER = "X-Trialwatch-Delivery"
SIGNATURE_HEADER = "X-Trialwatch-Signature"
TIMESTAMP_HEADER = "X-Trialwatch-Timestamp"
# Slack and Teams show the most severe changes; the rest are counted and one click away in Trial Watch.
TOP_CHANGES = 10
MAX_TEXT_CHARS = 280
# Tries inside one send; after the last one the row waits in the outbox for the next run.
ATTEMPTS_PER_SEND = 3
BACKOFF_SECONDS = 1.0  # then 2, 4, ...
RETRY_AFTER_CAP = 30.0
TIMEOUT = (5.0, 20.0)  # connect, read (seconds)
# Refusals that may pass: timeout, rate limit. Any other 4xx means the message or URL is wrong.
RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class ChannelTarget:
    """Where a channel posts, resolved from its Airflow connection (see ``airflow_glue.channel_target``)."""

    kind: str
    url: str
    secret: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in CHANNEL_KINDS:
            raise ValueError(
                f"unknown channel kind {self.kind!r}; expected one of {', '.join(CHANNEL_KINDS)}"
            )
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"{self.kind} channel URL must start with https:// (got {self.url[:40]!r})")
        if self.kind == "webhook" and not self.secret:
            raise ValueError("a webhook channel needs a secret (the connection's password) to sign with")


def delivery_id_for(key: str, period: str, target: str) -> str:
    """The same id for every post of one message, so a receiver can drop a repeat."""
    return hashlib.sha256(f"{key}|{period}|{target}".encode()).hexdigest()[:32]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Trialwatch-Signature`` value for this body posted at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# ---------------------------------------------------------------------------------------------------
# Payloads: pure functions of the selected events


@dataclass(frozen=True)
class Message:
    """What every channel says, before it is shaped for one of them."""

    watchlist: str
    title: str
    period: str
    items: Sequence[StoredEvent]
    generated_at: datetime
    trial_watch_url: str | None
    delivery_id: str

    @property
    def label(self) -> str:
        return period_label(self.period)

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for i in self.items if i.event.severity == s) for s in SEVERITIES}

    @property
    def headline(self) -> str:
        n = len(self.items)
        return f"{self.title}: {n} change{'' if n == 1 else 's'} ({self.label})"

    def top(self) -> list[StoredEvent]:
        ranked = sorted(self.items, key=lambda i: (-SEVERITY_RANK[i.event.severity], i.id or 0))
        return ranked[:TOP_CHANGES]

    def trial_link(self, nct_id: str) -> str | None:
        if not self.trial_watch_url or not NCT_ID.match(nct_id or ""):
            return None
        return f"{self.trial_watch_url}/trials/{nct_id}"


def _compare_url(item: StoredEvent) -> str | None:
    event = item.event
    return registry_link(event.compare_url) if NCT_ID.match(event.nct_id or "") else None


def _short(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _counts_text(message: Message) -> str:
    return ", ".join(f"{n} {s}" for s, n in message.counts.items() if n) or "no changes"


def _change_line(item: StoredEvent) -> str:
    view = change_view(item.event)
    line = f"{view.field}: {view.old} → {view.new}"
    if view.notes:
        line += f" ({'; '.join(view.notes)})"
    return _short(line)


def webhook_payload(message: Message) -> dict[str, Any]:
    events = []
    for item in message.items:
        event = item.event
        events.append(
            {
                "id": item.id,
                "nct_id": event.nct_id,
                "category": event.category,
                "severity": event.severity,
                "field": event.field,
                "old": event.old,
                "new": event.new,
                "detail": event.detail,
                "old_version": event.old_version,
                "new_version": event.new_version,
                "compare_url": _compare_url(item),
                "trial_watch_url": message.trial_link(event.nct_id),
            }
        )
    return {
        "delivery_id": message.delivery_id,
        "watchlist": {"name": message.watchlist, "title": message.title},
        "period": message.period,
        "kind": message.label,
        "generated_at": message.generated_at.isoformat(),
        "counts": message.counts,
        "event_count": len(message.items),
        "events": events,
        "trial_watch_url": message.trial_watch_url,
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup; registry text must show as typed.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: Message) -> dict[str, Any]:
    """An incoming-webhook message in Block Kit: header, counts, the top changes, a Trial Watch button."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _short(message.title, 150)}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _slack_escape(
                    f"{message.label}: {len(message.items)} changes — {_counts_text(message)}"
                ),
            },
        },
    ]
    for item in message.top():
        event = item.event
        text = f"*{event.severity.upper()}* · {_slack_escape(event.nct_id)} · {_slack_escape(_change_line(item))}"
        link = _compare_url(item)
        if link:
            text += f" <{link}|compare versions>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    rest = len(message.items) - len(message.top())
    if rest > 0:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {rest} more change(s)"}]}
        )
    if message.trial_watch_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open Trial Watch"},
                        "url": message.trial_watch_url,
                    }
                ],
            }
        )
    return {"text": _short(message.headline), "blocks": blocks}


def teams_payload(message: Message) -> dict[str, Any]:
    """An incoming-webhook message carrying an Adaptive Card with the same content as Slack's."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True, "text": message.title},
        {
            "type": "TextBlock",
            "wrap": True,
            "isSubtle": True,
            "text": f"{message.label}: {len(message.items)} changes",
        },
        {
            "type": "FactSet",
            "facts": [{"title": s, "value": str(n)} for s, n in message.counts.items() if n],
        },
    ]
    for item in message.top():
        event = item.event
        text = f"**{event.severity.upper()}** · {event.nct_id} · {_change_line(item)}"
        link = _compare_url(item)
        if link:
            text += f" [compare versions]({link})"
        body.append({"type": "TextBlock", "wrap": True, "text": text})
    rest = len(message.items) - len(message.top())
    if rest > 0:
        body.append(
            {"type": "TextBlock", "wrap": True, "isSubtle": True, "text": f"and {rest} more change(s)"}
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.trial_watch_url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open Trial Watch", "url": message.trial_watch_url}
        ]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


PAYLOADS: dict[str, Callable[[Message], dict[str, Any]]] = {
    "webhook": webhook_payload,
    "slack": slack_payload,
    "teams": teams_payload,
}


def render_body(kind: str, message: Message) -> str:
    """The exact text that will be posted: compact JSON, ASCII only, so its bytes never vary."""
    return json.dumps(PAYLOADS[kind](message), ensure_ascii=True, separators=(",", ":"), default=str)


# ---------------------------------------------------------------------------------------------------
# Planning


def _plan(
    session: Session, target: Watchlist, channel: Channel, *, high_water: int, now: datetime
) -> tuple[str, list[StoredEvent]] | None:
    """(period, events) for this channel now, or None when nothing is pending or the period is done."""
    items = pending(session, target, channel.ref, high_water, now)
    if not items:
        return None
    immediate = target.immediate_severity
    if immediate and any(at_least(item.event.severity, immediate) for item in items):
        period = f"immediate-{high_water}"
    else:
        period = period_key(target.cadence, now)
    if outbox.find(session, target.name, period, channel.ref) is not None:
        return None  # this period's message exists; later events wait for the next period
    return period, items


def prepare_channel_messages(
    store: Store,
    watchlists: Sequence[Watchlist],
    *,
    watchlist: str,
    now: datetime | None = None,
    trial_watch_url: str | None = None,
) -> list[int]:
    """Render and queue one message per channel of this watchlist that has pending events; returns new ids.

    Idempotent: a re-run in the same period queues nothing new. ``trial_watch_url`` (absolute, e.g.
    ``https://airflow.example.org/trialwatch``) is linked from every message when given.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    target = find_watchlist(watchlists, watchlist)
    base = trial_watch_url.rstrip("/") if trial_watch_url else None
    ids: list[int] = []
    with store.session() as session:
        high_water = stored.settled_high_water(session)
        for channel in getattr(target, "channels", ()):
            planned = _plan(session, target, channel, high_water=high_water, now=now)
            if planned is None:
                continue
            period, items = planned
            message = Message(
                watchlist=target.name,
                title=str(target.title or target.name),
                period=period,
                items=items,
                generated_at=now,
                trial_watch_url=base,
                delivery_id=delivery_id_for(target.name, period, channel.ref),
            )
            event_ids = [item.id for item in items if item.id is not None]
            delivery = outbox.NewDelivery(
                key=target.name,
                period_key=period,
                channel=channel.kind,
                target=channel.ref,
                delivery_id=message.delivery_id,
                subject=message.headline[:500],
                body=render_body(channel.kind, message),
                first_event_id=min(event_ids) if event_ids else None,
                last_event_id=high_water,
                event_count=len(items),
            )
            ids.append(outbox.queue_delivery(session, delivery, now))
            log.info("queued %s message %s %s (%d events)", channel.ref, target.name, period, len(items))
    return ids


# ---------------------------------------------------------------------------------------------------
# Sending


@dataclass
class ChannelReport:
    sent: list[tuple[int, str]] = field(default_factory=list)  # (outbox id, "kind:connection")
    failed: list[tuple[str, str]] = field(default_factory=list)  # ("kind:connection", error): retried later
    rejected: list[tuple[str, str]] = field(default_factory=list)  # refused for good: fix the channel


class ChannelDeliveryError(RuntimeError):
    """Some channel messages were not delivered; the others were. Carries the full report."""

    def __init__(self, report: ChannelReport) -> None:
        problems = [f"{t} ({e}, will retry)" for t, e in report.failed]
        problems += [f"{t} ({e}, refused for good)" for t, e in report.rejected]
        super().__init__(f"{len(problems)} channel message(s) not delivered: " + "; ".join(problems))
        self.report = report


@dataclass(frozen=True)
class Outcome:
    ok: bool
    permanent: bool = False
    error: str = ""


def _retry_after(response: requests.Response, now: Callable[[], float]) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def post(
    target: ChannelTarget,
    body: str,
    delivery_id: str,
    *,
    http: requests.Session,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    attempts: int = ATTEMPTS_PER_SEND,
) -> Outcome:
    """Post the body, retrying timeouts, 408, 429 and 5xx with exponential backoff (or Retry-After)."""
    data = body.encode("utf-8")
    error = ""
    for attempt in range(1, attempts + 1):
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery_id}
        if target.kind == "webhook" and target.secret:
            timestamp = str(int(clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(target.secret, timestamp, data)
        wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
        try:
            response = http.post(
                target.url, data=data, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {_short(str(exc), 200)}"
        else:
            status = response.status_code
            if 200 <= status < 300:
                return Outcome(ok=True)
            error = f"HTTP {status}: {_short(response.text or response.reason or '', 200)}"
            if 300 <= status < 500 and status not in RETRYABLE_4XX:
                return Outcome(ok=False, permanent=True, error=error)
            wait = _retry_after(response, clock) or wait
        if attempt < attempts:
            sleep(wait)
    return Outcome(ok=False, error=f"{error} after {attempts} attempts")


def send_channel_messages(
    store: Store,
    targets: Mapping[str, ChannelTarget],
    *,
    watchlist: str | None = None,
    max_attempts: int = 10,
    http: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> ChannelReport:
    """Post every queued channel message; raise ChannelDeliveryError at the end if any was not delivered.

    ``targets`` maps ``kind:connection`` to where it posts. Each row is claimed (so a second sender
    running at the same time skips it) and marked in its own transaction.
    """
    report = ChannelReport()
    with store.session() as session:
        ready, exhausted = outbox.sendable(
            session,
            watchlist=watchlist,
            max_attempts=max_attempts,
            now=datetime.now(UTC),
            channel=CHANNEL_KINDS,
        )
    for row in exhausted:
        report.failed.append((row.recipient, f"given up after {row.attempts} attempts: {row.last_error}"))
    http = http or requests.Session()
    for row_id in ready:
        with store.session() as session:
            claimed = outbox.claim(session, row_id, datetime.now(UTC))
        if claimed is None:
            continue  # another sender has it
        target = targets.get(claimed.recipient)
        if target is None:
            outcome = Outcome(ok=False, error=f"no connection configured for {claimed.recipient}")
        else:
            outcome = post(target, claimed.message, claimed.message_id, http=http, sleep=sleep, clock=clock)
        with store.session() as session:
            if outcome.ok:
                outbox.mark_sent(session, claimed.id, datetime.now(UTC))
            elif outcome.permanent:
                outbox.mark_rejected(session, claimed.id, outcome.error)
            else:
                # A missing connection is configuration, not the message: it must not use up attempts.
                outbox.mark_failed(session, claimed.id, outcome.error, count_attempt=target is not None)
        if outcome.ok:
            report.sent.append((claimed.id, claimed.recipient))
            log.info("delivered %s to %s", claimed.message_id, claimed.recipient)
        elif outcome.permanent:
            report.rejected.append((claimed.recipient, outcome.error))
            log.error("%s refused %s for good: %s", claimed.recipient, claimed.message_id, outcome.error)
        else:
            report.failed.append((claimed.recipient, outcome.error))
            log.warning(
                "%s: %s not delivered, will retry: %s", claimed.recipient, claimed.message_id, outcome.error
            )
    # Refusals from earlier runs, unless this run got a later message through to the same channel.
    with store.session() as session:
        earlier = outbox.rejected(session, watchlist=watchlist, channels=CHANNEL_KINDS)
    just_refused = {target for target, _ in report.rejected}
    for row in earlier:
        if row.recipient not in just_refused:
            report.rejected.append((row.recipient, f"outbox row {row.id}: {row.last_error}"))
    if report.failed or report.rejected:
        raise ChannelDeliveryError(report)
    return report
