"""Webhook, Slack and Teams delivery through the outbox, into real HTTP servers on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from trialwatch.digest.channels import (
    RETRY_AFTER_CAP,
    TOP_CHANGES,
    ChannelDeliveryError,
    ChannelTarget,
    prepare_channel_messages,
    send_channel_messages,
)
from trialwatch.digest.service import prepare_digests, send_queued
from trialwatch.digest.smtp import SmtpSettings
from trialwatch.events import ChangeEvent, at_least
from trialwatch.store.models import DigestOutbox
from trialwatch.watchlists import Channel

from .conftest import NOW, Watchlist, add_event, sample_events, seed

SECRET = "s3cret-partner-key"
TRIAL_WATCH = "https://airflow.example.org/trialwatch"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Sink:
    """A real HTTP server: answers each path with the queued statuses first, then 200; records every post."""

    url: str
    received: list[Received] = field(default_factory=list)
    plan: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    hold: threading.Event | None = None  # when given, the first post waits for it (a sender stuck mid-post)
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posts(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def sink() -> Iterator[Sink]:
    state = Sink(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                wait = state.hold is not None and state.held == 0
                state.held += wait
            if wait and state.hold is not None:
                state.hold.wait(timeout=10)
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                queued = state.plan.get(self.path) or []
                status, headers = queued.pop(0) if queued else (200, {})
            payload = b"ok" if status == 200 else b"no_service"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()


CHANNELS = (Channel("webhook", "partner"), Channel("slack", "office"), Channel("teams", "oncology"))


def nk(**overrides: Any) -> Watchlist:
    values: dict[str, Any] = {
        "name": "nk",
        "title": "NK-cell therapy in acute leukemia",
        "channels": CHANNELS,
    }
    values.update(overrides)
    return Watchlist(**values)


def targets(sink: Sink) -> dict[str, ChannelTarget]:
    return {
        "webhook:partner": ChannelTarget("webhook", f"{sink.url}/hooks/partner", SECRET),
        "slack:office": ChannelTarget("slack", f"{sink.url}/services/T0/B0/x"),
        "teams:oncology": ChannelTarget("teams", f"{sink.url}/webhookb2/oncology"),
    }


def expected_events() -> list[ChangeEvent]:
    """The seeded changes a minor-and-above watchlist reports."""
    return [e for e in sample_events() if at_least(e.severity, "minor")]


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the HMAC over "<timestamp>.<body>" and compare in constant time."""
    timestamp = headers["X-Trialwatch-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers["X-Trialwatch-Signature"])


def deliver(store: Any, sink: Sink, watchlists: list[Watchlist], sleeps: list[float] | None = None) -> Any:
    prepare_channel_messages(store, watchlists, watchlist="nk", now=NOW, trial_watch_url=TRIAL_WATCH)
    return send_channel_messages(store, targets(sink), sleep=(sleeps if sleeps is not None else []).append)


def test_webhook_payload_is_signed_and_complete(seeded, sink):
    report = deliver(seeded, sink, [nk()])
    assert sorted(t for _, t in report.sent) == ["slack:office", "teams:oncology", "webhook:partner"]
    [post] = sink.posts("/hooks/partner")
    assert post.headers["Content-Type"] == "application/json"
    assert verify(SECRET, post.headers, post.body)
    assert not verify("another-secret", post.headers, post.body)
    tampered = post.body.replace(b'"nk"', b'"xx"')
    assert tampered != post.body and not verify(SECRET, post.headers, tampered)

    payload = json.loads(post.body)
    assert payload["delivery_id"] == post.headers["X-Trialwatch-Delivery"]
    assert payload["watchlist"] == {"name": "nk", "title": "NK-cell therapy in acute leukemia"}
    events = expected_events()
    # A critical change is among them, so this is the immediate alert, not the daily digest.
    assert payload["period"].startswith("immediate-")
    assert payload["counts"] == {
        s: sum(1 for e in events if e.severity == s) for s in ("critical", "major", "minor", "info")
    }
    assert payload["event_count"] == len(events) == len(payload["events"])
    sent = {(e["nct_id"], e["field"], e["severity"]): e for e in payload["events"]}
    for event in events:
        item = sent[(event.nct_id, event.field, event.severity)]
        assert (item["category"], item["old"], item["new"]) == (event.category, event.old, event.new)
        assert item["compare_url"] == (
            f"https://clinicaltrials.gov/study/{event.nct_id}?tab=history"
            f"&a={event.old_version}&b={event.new_version}#version-content-panel"
        )
        assert item["trial_watch_url"] == f"{TRIAL_WATCH}/trials/{event.nct_id}"
    assert payload["trial_watch_url"] == TRIAL_WATCH


def test_slack_block_kit_and_teams_card(seeded, sink):
    deliver(seeded, sink, [nk()])
    events = expected_events()

    [slack] = sink.posts("/services/T0/B0/x")
    assert "X-Trialwatch-Signature" not in slack.headers
    message = json.loads(slack.body)
    blocks = message["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "NK-cell therapy in acute leukemia"},
    }
    assert f"{len(events)} changes" in blocks[1]["text"]["text"]
    changes = [b for b in blocks if b["type"] == "section"][1:]
    assert len(changes) == min(TOP_CHANGES, len(events))
    assert changes[0]["text"]["text"].startswith("*CRITICAL* · NCT03934567 · Overall status")
    # Registry text that looks like markup is shown, never turned into a Slack link.
    texts = " ".join(b["text"]["text"] for b in changes)
    assert "&lt;a href=" in texts and "<a href" not in texts
    assert blocks[-1]["elements"][0]["url"] == TRIAL_WATCH

    [teams] = sink.posts("/webhookb2/oncology")
    card_message = json.loads(teams.body)
    [attachment] = card_message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "NK-cell therapy in acute leukemia"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts == {s: str(n) for s, n in Counter(e.severity for e in events).items()}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open Trial Watch", "url": TRIAL_WATCH}]


def test_delivery_ids_differ_per_channel_and_stay_the_same_on_retry(seeded, sink):
    sink.plan["/hooks/partner"] = [(503, {})]
    deliver(seeded, sink, [nk()])
    ids = [r.headers["X-Trialwatch-Delivery"] for r in sink.received]
    per_path = {r.path: r.headers["X-Trialwatch-Delivery"] for r in sink.received}
    assert len(set(per_path.values())) == 3
    first, second = sink.posts("/hooks/partner")
    assert first.body == second.body
    assert first.headers["X-Trialwatch-Delivery"] == second.headers["X-Trialwatch-Delivery"]
    assert len(ids) == 4


def _exactly_once(store: Any, sink: Sink) -> None:
    watchlists = [nk()]
    deliver(store, sink, watchlists)
    deliver(store, sink, watchlists)  # a re-run of the whole DAG: nothing new
    assert Counter(r.path for r in sink.received) == {
        "/hooks/partner": 1,
        "/services/T0/B0/x": 1,
        "/webhookb2/oncology": 1,
    }
    # A change found the next day goes out once, alone, to every channel.
    with store.session() as session:
        add_event(
            session,
            ChangeEvent(
                "sites",
                "Locations",
                [],
                [{"facility": "Site B"}],
                "minor",
                nct_id="NCT06171568",
                old_version=4,
                new_version=5,
            ),
            NOW + timedelta(hours=23),
        )
    for _ in range(2):
        prepare_channel_messages(store, watchlists, watchlist="nk", now=NOW + timedelta(days=1))
        send_channel_messages(store, targets(sink), sleep=[].append)
    later = [json.loads(r.body) for r in sink.posts("/hooks/partner")]
    assert len(later) == 2
    assert later[1]["period"] == (NOW + timedelta(days=1)).date().isoformat()
    assert [e["field"] for e in later[1]["events"]] == ["Locations"]
    assert Counter(r.path for r in sink.received) == {
        "/hooks/partner": 2,
        "/services/T0/B0/x": 2,
        "/webhookb2/oncology": 2,
    }


def test_exactly_once_per_channel_across_reruns_sqlite(seeded, sink):
    _exactly_once(seeded, sink)


@pytest.mark.postgres
def test_exactly_once_per_channel_across_reruns_postgres(pg_store, sink):
    seed(pg_store)
    _exactly_once(pg_store, sink)


def test_sink_failing_twice_then_accepting_gets_the_message_once(seeded, sink):
    sink.plan["/hooks/partner"] = [(503, {}), (429, {"Retry-After": "7"})]
    sleeps: list[float] = []
    report = deliver(seeded, sink, [nk()], sleeps)
    posts = sink.posts("/hooks/partner")
    assert len(posts) == 3 and len({p.body for p in posts}) == 1
    assert all(verify(SECRET, p.headers, p.body) for p in posts)
    assert sleeps == [1.0, 7.0]  # backoff, then the receiver's Retry-After
    assert "webhook:partner" in {t for _, t in report.sent}
    deliver(seeded, sink, [nk()])
    assert len(sink.posts("/hooks/partner")) == 3


def test_retry_after_is_capped_and_a_down_sink_keeps_the_row_queued(seeded, sink):
    sink.plan["/hooks/partner"] = [(503, {"Retry-After": "3600"})] * 3
    sleeps: list[float] = []
    with pytest.raises(ChannelDeliveryError) as failure:
        deliver(seeded, sink, [nk()], sleeps)
    assert sleeps == [RETRY_AFTER_CAP, RETRY_AFTER_CAP]
    assert [t for t, _ in failure.value.report.failed] == ["webhook:partner"]
    assert "HTTP 503" in str(failure.value) and "will retry" in str(failure.value)
    with seeded.session() as session:
        row = session.scalar(select(DigestOutbox).where(DigestOutbox.recipient == "webhook:partner"))
        assert (row.status, row.attempts) == ("failed", 1)
    # The next run posts the same bytes and succeeds.
    report = send_channel_messages(seeded, targets(sink), sleep=sleeps.append)
    assert report.sent and [t for _, t in report.sent] == ["webhook:partner"]
    posts = sink.posts("/hooks/partner")
    assert len(posts) == 4 and len({p.body for p in posts}) == 1


def test_permanent_refusal_blocks_neither_email_nor_other_channels(seeded, sink, smtp_server):
    handler, controller = smtp_server
    sink.plan["/services/T0/B0/x"] = [(404, {})]
    watchlists = [nk(recipients=("ana@example.org",))]
    prepare_digests(seeded, watchlists, watchlist="nk", sender="trialwatch@example.org", now=NOW)
    sleeps: list[float] = []
    with pytest.raises(ChannelDeliveryError) as failure:
        deliver(seeded, sink, watchlists, sleeps)
    report = failure.value.report
    assert sorted(t for _, t in report.sent) == ["teams:oncology", "webhook:partner"]
    assert report.rejected == [("slack:office", "HTTP 404: no_service")]
    assert report.failed == [] and sleeps == []  # a 404 is not retried
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, starttls=False, timeout=5)
    assert [r for _, r in send_queued(seeded, smtp).sent] == ["ana@example.org"]
    assert len(handler.messages_for("ana@example.org")) == 1

    # Later runs never post the refused message again, and keep saying so.
    with pytest.raises(ChannelDeliveryError, match="slack:office .*refused for good"):
        send_channel_messages(seeded, targets(sink), sleep=sleeps.append)
    assert len(sink.posts("/services/T0/B0/x")) == 1
    assert Counter(r.path for r in sink.received) == {
        "/hooks/partner": 1,
        "/services/T0/B0/x": 1,
        "/webhookb2/oncology": 1,
    }

    # Once the channel is fixed and a later message gets through, the old refusal stops being reported.
    with seeded.session() as session:
        add_event(
            session,
            ChangeEvent("contacts", "Central contact", "a", "b", "minor", nct_id="NCT06171568"),
            NOW + timedelta(hours=23),
        )
    prepare_channel_messages(seeded, watchlists, watchlist="nk", now=NOW + timedelta(days=1))
    report = send_channel_messages(seeded, targets(sink), sleep=sleeps.append)
    assert sorted(t for _, t in report.sent) == ["slack:office", "teams:oncology", "webhook:partner"]
    assert report.rejected == [] and len(sink.posts("/services/T0/B0/x")) == 2


def test_missing_connection_keeps_the_row_without_using_attempts(seeded, sink):
    prepare_channel_messages(seeded, [nk()], watchlist="nk", now=NOW)
    only_slack = {k: v for k, v in targets(sink).items() if k == "slack:office"}
    with pytest.raises(ChannelDeliveryError, match="no connection configured for webhook:partner"):
        send_channel_messages(seeded, only_slack, sleep=[].append)
    with seeded.session() as session:
        rows = {r.recipient: (r.status, r.attempts) for r in session.scalars(select(DigestOutbox))}
    assert rows == {
        "webhook:partner": ("failed", 0),
        "slack:office": ("sent", 1),
        "teams:oncology": ("failed", 0),
    }


def test_two_concurrent_senders_never_post_the_same_row_twice(seeded, sink):
    prepare_channel_messages(seeded, [nk()], watchlist="nk", now=NOW)
    sink.hold = threading.Event()  # the first sender stays mid-post while the second one runs
    reports: list[Any] = []

    def run() -> None:
        reports.append(send_channel_messages(seeded, targets(sink), sleep=[].append))

    first = threading.Thread(target=run)
    first.start()
    # Wait until the first sender holds a row (its post is waiting in the sink).
    for _ in range(200):
        with seeded.session() as session:
            if session.scalar(select(DigestOutbox).where(DigestOutbox.status == "sending")) is not None:
                break
        threading.Event().wait(0.05)
    second = threading.Thread(target=run)
    second.start()
    second.join(timeout=30)
    assert [r.path for r in sink.received] == ["/services/T0/B0/x", "/webhookb2/oncology"]
    sink.hold.set()
    first.join(timeout=30)
    assert len(reports) == 2
    sent = [t for report in reports for _, t in report.sent]
    assert sorted(sent) == ["slack:office", "teams:oncology", "webhook:partner"]
    assert Counter(r.path for r in sink.received) == {
        "/hooks/partner": 1,
        "/services/T0/B0/x": 1,
        "/webhookb2/oncology": 1,
    }


def test_channel_rows_never_reach_the_email_sender(seeded, sink, smtp_server):
    handler, controller = smtp_server
    prepare_channel_messages(seeded, [nk(recipients=())], watchlist="nk", now=NOW)
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, starttls=False, timeout=5)
    assert send_queued(seeded, smtp).sent == []
    assert handler.received == []
    with seeded.session() as session:
        assert {r.status for r in session.scalars(select(DigestOutbox))} == {"queued"}


def test_target_refuses_a_webhook_without_secret_and_odd_urls():
    with pytest.raises(ValueError, match="needs a secret"):
        ChannelTarget("webhook", "https://partner.example/hook")
    with pytest.raises(ValueError, match="must start with https://"):
        ChannelTarget("slack", "hooks.slack.com/services/x")
    with pytest.raises(ValueError, match="unknown channel kind 'discord'"):
        ChannelTarget("discord", "https://discord.example/x")


def test_the_readme_verification_snippet_accepts_a_real_post(seeded, sink, time_machine):
    """The receiver code in the README, run as written against what the sink received."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = re.search(r"```python\n(import hashlib.*?)```", readme, re.DOTALL)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 (our own documentation)
    posted_at = NOW.timestamp()
    prepare_channel_messages(seeded, [nk()], watchlist="nk", now=NOW)
    send_channel_messages(seeded, targets(sink), sleep=[].append, clock=lambda: posted_at)
    [post] = sink.posts("/hooks/partner")
    assert post.headers["X-Trialwatch-Timestamp"] == str(int(posted_at))
    time_machine.move_to(NOW + timedelta(seconds=30), tick=False)
    assert namespace["verified"](SECRET.encode(), post.headers, post.body)
    assert not namespace["verified"](b"wrong", post.headers, post.body)
    time_machine.move_to(NOW + timedelta(hours=1), tick=False)
    assert not namespace["verified"](SECRET.encode(), post.headers, post.body)  # too old: a replay
