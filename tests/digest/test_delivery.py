"""Delivery into a real SMTP server on loopback (aiosmtpd), with failures injected."""

from __future__ import annotations

import socket
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from trialwatch.digest.service import DigestDeliveryError, prepare_digests, send_queued
from trialwatch.digest.smtp import SmtpSettings
from trialwatch.events import ChangeEvent
from trialwatch.store.models import DigestOutbox

from .conftest import NOW, SENDER, Watchlist, add_event, record

RECIPIENTS = ("ana@example.org", "ben@example.org", "cy@example.org")


def nk(**overrides) -> Watchlist:
    values = {"name": "nk", "title": "NK-cell therapy in acute leukemia", "recipients": RECIPIENTS}
    values.update(overrides)
    return Watchlist(**values)


def sink(controller, **overrides) -> SmtpSettings:
    """Settings for the local test sink: the only place STARTTLS is switched off."""
    values = {"host": "127.0.0.1", "port": controller.port, "starttls": False, "timeout": 5}
    values.update(overrides)
    return SmtpSettings(**values)


def ids_per_recipient(handler) -> dict[str, Counter]:
    return {r: Counter(m["Message-ID"] for m in handler.messages_for(r)) for r in RECIPIENTS}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_server_down_then_up_delivers_exactly_one_copy(seeded, smtp_server):
    handler, controller = smtp_server
    watchlists = [nk()]
    queued = prepare_digests(seeded, watchlists, watchlist="nk", sender=SENDER, now=NOW)
    assert len(queued) == 3

    down = SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, timeout=5)
    with pytest.raises(DigestDeliveryError) as failure:
        send_queued(seeded, down)
    print("server down:", failure.value)
    assert sorted(r for r, _ in failure.value.report.failed) == sorted(RECIPIENTS)
    assert "cannot connect" in str(failure.value)

    report = send_queued(seeded, sink(controller, from_email="digests@trial-office.example"))
    assert sorted(r for _, r in report.sent) == sorted(RECIPIENTS)
    assert {m["From"] for r in RECIPIENTS for m in handler.messages_for(r)} == {
        "digests@trial-office.example"
    }
    assert all(len(ids) == 1 and sum(ids.values()) == 1 for ids in ids_per_recipient(handler).values())
    with seeded.session() as session:
        rows = session.scalars(select(DigestOutbox)).all()
        # An unreachable server does not use up attempts: only the delivery counts.
        assert {row.status for row in rows} == {"sent"} and {row.attempts for row in rows} == {1}


def test_a_long_mail_server_outage_loses_no_digest(seeded, smtp_server):
    handler, controller = smtp_server
    prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW)
    down = SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, timeout=5)
    for _ in range(12):  # twelve hourly runs, well past max_attempts
        with pytest.raises(DigestDeliveryError):
            send_queued(seeded, down, max_attempts=3)
    report = send_queued(seeded, sink(controller), max_attempts=3)
    assert sorted(r for _, r in report.sent) == sorted(RECIPIENTS)
    assert all(sum(ids.values()) == 1 for ids in ids_per_recipient(handler).values())


def test_a_row_being_sent_is_not_taken_by_a_second_sender_until_its_lease_expires(seeded):
    from datetime import timedelta

    from trialwatch.store import outbox

    [row_id, *_] = prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW)
    with seeded.session() as session:
        assert outbox.claim(session, row_id, NOW) is not None
    with seeded.session() as session:
        assert outbox.claim(session, row_id, NOW + timedelta(minutes=1)) is None
        ready, _ = outbox.sendable(session, watchlist="nk", max_attempts=10, now=NOW + timedelta(minutes=1))
        assert row_id not in ready
    # The first sender died: after the lease the row is sent again (same Message-ID).
    later = NOW + outbox.CLAIM_LEASE + timedelta(seconds=1)
    with seeded.session() as session:
        assert outbox.claim(session, row_id, later) is not None


def test_refused_recipient_is_reported_others_delivered_then_retried(seeded, smtp_server):
    handler, controller = smtp_server
    handler.refuse = {"ben@example.org"}
    prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW)

    with pytest.raises(DigestDeliveryError) as failure:
        send_queued(seeded, sink(controller))
    print("one refused:", failure.value)
    report = failure.value.report
    assert [r for r, _ in report.failed] == ["ben@example.org"]
    assert "550" in report.failed[0][1]
    assert sorted(r for _, r in report.sent) == ["ana@example.org", "cy@example.org"]
    assert handler.messages_for("ben@example.org") == []

    handler.refuse = set()
    report = send_queued(seeded, sink(controller))
    assert [r for _, r in report.sent] == ["ben@example.org"]
    assert all(sum(ids.values()) == 1 for ids in ids_per_recipient(handler).values())


def test_connection_dropped_after_data_then_rerun(seeded, smtp_server):
    """The server stores the first message, then hangs up before answering, so we count it as failed.

    The re-run sends the same bytes again, and that recipient's mailbox holds two copies with one
    Message-ID. A receiver (or the user's mail client) that deduplicates by Message-ID shows one; the
    others see it at worst as an identical duplicate in the same thread. Counted by Message-ID, every
    recipient has exactly one copy of the digest, and the stored bytes are identical.
    """
    handler, controller = smtp_server
    handler.drop_after_data = 1
    prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW)

    with pytest.raises(DigestDeliveryError) as failure:
        send_queued(seeded, sink(controller))
    print("dropped after DATA:", failure.value)
    assert len(failure.value.report.failed) == 1
    dropped_for = failure.value.report.failed[0][0]

    send_queued(seeded, sink(controller))
    prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW)
    assert send_queued(seeded, sink(controller)).sent == []

    per_recipient = ids_per_recipient(handler)
    assert all(len(ids) == 1 for ids in per_recipient.values())
    assert sum(per_recipient[dropped_for].values()) == 2
    copies = [data for rcpt, data in handler.received if rcpt == dropped_for]
    assert copies[0] == copies[1]


def test_rerunning_prepare_and_send_sends_nothing_new(seeded, smtp_server):
    handler, controller = smtp_server
    first = prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW)
    send_queued(seeded, sink(controller))
    again = prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW + timedelta(minutes=5))
    assert again == first
    assert send_queued(seeded, sink(controller)).sent == []
    assert len(handler.received) == 3


def test_timing_immediate_then_daily_then_waiting_then_immediate(seeded, smtp_server):
    """Critical news goes out at once; the day's digest comes once; later minor news waits a day."""
    handler, controller = smtp_server
    watchlists = [nk(recipients=("ana@example.org",))]
    inbox = lambda: [m["Message-ID"] for m in handler.messages_for("ana@example.org")]

    def minor(version: int) -> ChangeEvent:
        return ChangeEvent(
            "dates",
            "Study completion date",
            "2026-01",
            "2026-05",
            "minor",
            nct_id="NCT06171568",
            old_version=version - 1,
            new_version=version,
        )

    prepare_digests(
        seeded, watchlists, watchlist="nk", sender=SENDER, now=NOW
    )  # seeded events include a critical one
    send_queued(seeded, sink(controller))
    assert len(inbox()) == 1

    with seeded.session() as session:
        add_event(session, minor(5), NOW)
    prepare_digests(seeded, watchlists, watchlist="nk", sender=SENDER, now=NOW + timedelta(hours=1))
    send_queued(seeded, sink(controller))
    assert len(inbox()) == 2  # today's daily digest

    with seeded.session() as session:
        add_event(session, minor(6), NOW)
    assert (
        prepare_digests(seeded, watchlists, watchlist="nk", sender=SENDER, now=NOW + timedelta(hours=2)) != []
    )
    assert send_queued(seeded, sink(controller)).sent == []  # waits for tomorrow

    with seeded.session() as session:
        add_event(
            session,
            ChangeEvent(
                "status",
                "Overall status",
                "RECRUITING",
                "SUSPENDED",
                "critical",
                nct_id="NCT06171568",
                old_version=6,
                new_version=7,
            ),
            NOW,
        )
    prepare_digests(seeded, watchlists, watchlist="nk", sender=SENDER, now=NOW + timedelta(hours=3))
    assert len(send_queued(seeded, sink(controller)).sent) == 1
    urgent = handler.messages_for("ana@example.org")[-1]
    print("immediate subject:", urgent["Subject"])
    assert urgent["Subject"] == "[trialwatch] NK-cell therapy in acute leukemia: 1 critical, 1 minor"

    prepare_digests(seeded, watchlists, watchlist="nk", sender=SENDER, now=NOW + timedelta(days=1))
    assert send_queued(seeded, sink(controller)).sent == []  # nothing left over for tomorrow
    assert len(inbox()) == len(set(inbox())) == 3


def test_starttls_required_by_default(seeded, smtp_server):
    handler, controller = smtp_server
    prepare_digests(seeded, [nk()], watchlist="nk", sender=SENDER, now=NOW)
    with pytest.raises(DigestDeliveryError) as failure:
        send_queued(seeded, SmtpSettings(host="127.0.0.1", port=controller.port, timeout=5))
    print("no STARTTLS:", failure.value.report.failed[0][1])
    assert "does not offer STARTTLS" in str(failure.value)
    assert handler.received == []
    assert len(send_queued(seeded, sink(controller)).sent) == 3


def test_max_attempts_gives_up_and_reports_skipped(seeded, smtp_server):
    handler, controller = smtp_server
    handler.refuse = {"ana@example.org"}
    prepare_digests(seeded, [nk(recipients=("ana@example.org",))], watchlist="nk", sender=SENDER, now=NOW)
    for _ in range(2):
        with pytest.raises(DigestDeliveryError):
            send_queued(seeded, sink(controller), max_attempts=2)
    # Given up on, but kept in the outbox, and every run fails loudly so someone looks.
    with pytest.raises(DigestDeliveryError) as failure:
        send_queued(seeded, sink(controller), max_attempts=2)
    report = failure.value.report
    assert report.sent == [] and [r for _, r in report.skipped] == ["ana@example.org"]
    assert [r for r, _ in report.failed] == ["ana@example.org"]
    assert "given up after 2 attempts" in report.failed[0][1]
    assert handler.messages_for("ana@example.org") == []


def test_combined_digest_one_email_with_a_section_per_watchlist(seeded, smtp_server):
    handler, controller = smtp_server
    data = record("NCT06171568")
    watchlists = [
        nk(recipients=("ana@example.org", "ben@example.org"), immediate_severity=None),
        Watchlist(
            name="memory",
            title="Cognition cohorts",
            nct_ids=("NCT06171568",),
            recipients=("ana@example.org",),
            immediate_severity=None,
        ),
    ]
    assert data["identificationModule"]["nctId"] == "NCT06171568"
    prepare_digests(seeded, watchlists, watchlist="nk", sender=SENDER, now=NOW)
    prepare_digests(seeded, watchlists, watchlist="memory", sender=SENDER, now=NOW)
    send_queued(seeded, sink(controller))
    ana = handler.messages_for("ana@example.org")
    assert len(ana) == 1
    html = ana[0].get_body(("html",)).get_content()
    assert "Cognition cohorts" in html and "NK-cell therapy in acute leukemia" in html
    assert ana[0]["Subject"].startswith("[trialwatch] Cognition cohorts + NK-cell therapy in acute leukemia:")
    assert len(handler.messages_for("ben@example.org")) == 1


@pytest.mark.postgres
def test_prepare_and_send_on_postgresql(pg_store, smtp_server):
    """The same outbox guarantees on PostgreSQL: one row per key, one copy per recipient on re-run."""
    from .conftest import seed

    handler, controller = smtp_server
    seed(pg_store)
    first = prepare_digests(pg_store, [nk()], watchlist="nk", sender=SENDER, now=NOW)
    assert prepare_digests(pg_store, [nk()], watchlist="nk", sender=SENDER, now=NOW) == first
    send_queued(pg_store, sink(controller))
    assert send_queued(pg_store, sink(controller)).sent == []
    assert all(sum(ids.values()) == 1 for ids in ids_per_recipient(handler).values())
