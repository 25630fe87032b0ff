"""Findings in the digest: new ones once, resolved ones once, in HTML, text and CSV, per watchlist switch."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from trialwatch.digest import prepare_digests
from trialwatch.pipeline import run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayRegistry, ReplayServer
from trialwatch.store import Store
from trialwatch.store.models import DigestOutbox
from trialwatch.watchlists import Watchlist

from .replay_days import DAYS, write_timeline

SENDER = "trialwatch@localhost"


@pytest.fixture
def days(tmp_path: Path) -> Iterator[ReplayServer]:
    with ReplayServer(ReplayRegistry(write_timeline(tmp_path / "replay")), day=1) as server:
        yield server


def _watchlist(tmp_path: Path, **fields: object) -> Watchlist:
    return Watchlist(  # type: ignore[arg-type]
        name="office",
        path=tmp_path / "office.yaml",
        title="Trial office",
        nct_ids=("NCT03418623", "NCT04327037"),
        recipients=("ana@example.org",),
        immediate_severity=None,
        **fields,
    )


def _day(
    store: Store, server: ReplayServer, day: int, watchlist: Watchlist, time_machine
) -> list[EmailMessage]:  # type: ignore[no-untyped-def]
    """Sync the day's registry and queue the day's digest; the messages queued by this day."""
    now = datetime.fromisoformat(f"{DAYS[day]}T10:00:00+00:00").astimezone(UTC)
    time_machine.move_to(now, tick=False)
    server.set_day(day)
    client = CtgovClient(server.base_url, min_interval=0, max_retries=1, backoff_base=0)
    run_sync(store, client, [watchlist])
    with store.session() as session:
        before = set(session.scalars(select(DigestOutbox.id)))
    prepare_digests(store, [watchlist], watchlist=watchlist.name, sender=SENDER, now=now)
    with store.session() as session:
        rows = session.scalars(select(DigestOutbox).where(DigestOutbox.id.not_in(before)))
        return [message_from_string(row.message, policy=policy.default) for row in rows]  # type: ignore[misc]


def _parts(message: EmailMessage) -> tuple[str, str, list[dict[str, str]]]:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    attachment = next(p for p in message.iter_attachments() if p.get_content_type() == "text/csv")
    rows = list(csv.DictReader(io.StringIO(attachment.get_content(), newline="")))
    return text, html, rows


def test_a_finding_is_reported_new_once_and_resolved_once(
    store: Store, days: ReplayServer, tmp_path: Path, time_machine
) -> None:  # type: ignore[no-untyped-def]
    watchlist = _watchlist(tmp_path)
    assert _day(store, days, 1, watchlist, time_machine) == []  # no changes, no findings: no email

    [day2] = _day(store, days, 2, watchlist, time_machine)
    text, html, rows = _parts(day2)
    assert "3 new findings" in day2["Subject"]
    assert "Findings: 3 new, 0 resolved since the last digest" in text
    assert "[CRITICAL] Results overdue · NCT03418623" in text
    assert "due by 2021-03-13" in text
    assert "Recruitment status past the completion date" in html and "Findings" in html
    findings = [(r["nct_id"], r["field"], r["new"]) for r in rows if r["kind"] == "finding"]
    assert sorted(findings) == [
        ("NCT03418623", "Results overdue", "new"),
        ("NCT04327037", "Recruitment status past the completion date", "new"),
        ("NCT04327037", "Status not verified for over two years", "new"),
    ]

    [day3] = _day(store, days, 3, watchlist, time_machine)
    text, _, rows = _parts(day3)
    assert "Findings: 0 new, 2 resolved since the last digest" in text
    assert "Results overdue" not in text  # still open: not news again
    assert sorted((r["nct_id"], r["new"]) for r in rows if r["kind"] == "finding") == [
        ("NCT04327037", "resolved"),
        ("NCT04327037", "resolved"),
    ]

    assert _day(store, days, 4, watchlist, time_machine) == []  # nothing opened or resolved since


def test_the_watchlist_switch_chooses_the_findings_reported(
    store: Store, days: ReplayServer, tmp_path: Path, time_machine
) -> None:  # type: ignore[no-untyped-def]
    only = _watchlist(tmp_path, findings=("verification_stale",))
    _day(store, days, 1, only, time_machine)
    [day2] = _day(store, days, 2, only, time_machine)
    text, _, rows = _parts(day2)
    assert "Findings: 1 new, 0 resolved" in text
    assert [r["field"] for r in rows if r["kind"] == "finding"] == ["Status not verified for over two years"]


def test_findings_off_sends_no_findings(
    store: Store, days: ReplayServer, tmp_path: Path, time_machine
) -> None:  # type: ignore[no-untyped-def]
    off = _watchlist(tmp_path, findings=())
    _day(store, days, 1, off, time_machine)
    [day2] = _day(store, days, 2, off, time_machine)  # NCT04327037's day-2 version is a change
    text, html, rows = _parts(day2)
    assert "finding" not in day2["Subject"]
    assert "Findings:" not in text and "Results overdue" not in html
    assert rows and {r["kind"] for r in rows} == {"change"}


def test_a_digest_of_findings_only_says_so_and_escapes_registry_text() -> None:
    import json
    from datetime import date

    from trialwatch.digest.render import findings_view, fitted_digest, render_text
    from trialwatch.findings import evaluate
    from trialwatch.records import TrialInfo
    from trialwatch.replay.server import DEFAULT_DATA_DIR

    record = json.loads((DEFAULT_DATA_DIR / "samples" / "study_NCT03418623.json").read_text())
    [overdue] = evaluate(record, as_of=date(2024, 10, 1))
    trials = {"NCT03418623": TrialInfo("<b>GET73</b> & MRS")}
    view, html = fitted_digest(
        heading="Office",
        sections=[(_watchlist(Path("x")), [])],
        trials=trials,
        health=None,
        period_label="daily digest 2024-10-01",
        generated_at=datetime(2024, 10, 1, 10, tzinfo=UTC),
        findings=findings_view([overdue], [], trials),
    )
    assert view.subject == "[trialwatch] Office: 1 new finding"
    text = render_text(view)
    assert "No changes; 1 finding below." in text and "0 changes" not in text
    assert "&lt;b&gt;GET73&lt;/b&gt; &amp; MRS" in html and "<b>GET73" not in html


def test_the_feed_has_an_entry_when_a_finding_opens_and_one_when_it_resolves(
    store: Store, days: ReplayServer, tmp_path: Path, time_machine
) -> None:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    from trialwatch.digest.feed import atom_feed

    watchlist = _watchlist(tmp_path, findings=("verification_stale", "results_overdue"))
    for day in (1, 2, 3):
        _day(store, days, day, watchlist, time_machine)
    root = ET.fromstring(atom_feed(store, watchlist))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    found = sorted(t for t in titles if t and ("new finding" in t or "resolved:" in t))
    assert found == [
        "NCT03418623: new finding: Results overdue (critical)",
        "NCT04327037: new finding: Status not verified for over two years (major)",
        "NCT04327037: resolved: Status not verified for over two years (major)",
    ]
    ids = [e.findtext("a:id", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert len(ids) == len(set(ids))
