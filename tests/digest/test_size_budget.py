"""A digest's HTML part fits Gmail's clipping limit whatever the number of events; the CSV keeps all."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from email import message_from_bytes, policy

from trialwatch.digest.compose import compose
from trialwatch.digest.render import HTML_BUDGET_BYTES, HealthView

from .big_digest import many_events
from .conftest import Watchlist


def _compose(count: int, ui_url: str | None = "https://airflow.example.org/trialwatch"):
    items, trials = many_events(count)
    return items, compose(
        key="nk",
        period="2026-11-23",
        recipient="ana@example.org",
        sections=[(Watchlist(name="nk", title="NK cells", recipients=("ana@example.org",)), items)],
        trials=trials,
        health=HealthView(data_timestamp="2026-11-23T09:00:05"),
        high_water=count,
        now=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
        sender="trialwatch@example.org",
        ui_url=ui_url,
    )


def test_ten_thousand_events_fit_the_html_budget_and_the_csv_keeps_them_all():
    items, planned = _compose(10_000)
    assert len(planned.html.encode("utf-8")) < HTML_BUDGET_BYTES
    message = message_from_bytes(planned.message, policy=policy.default)
    html = message.get_body(("html",)).get_content()
    assert len(html.encode("utf-8")) < HTML_BUDGET_BYTES
    # The header still counts every change; 1 in 10 of the generated events is critical.
    assert "10000 changes</strong> in 2000 trials" in html
    assert "1000 critical" in html
    assert "The attached CSV lists all 10000." in html
    # The most severe changes come in full; the rest are counted and linked to Trial Watch.
    # The generated critical events (n % 10 == 6) are all enrollment changes, estimated to actual.
    assert "Enrollment" in html and "(estimated)" in html and "(actual)" in html
    assert 'href="https://airflow.example.org/trialwatch/trials/NCT1000' in html
    attachment = next(p for p in message.iter_attachments() if p.get_content_type() == "text/csv")
    rows = list(csv.DictReader(io.StringIO(attachment.get_content(), newline="")))
    assert len(rows) == len(items) == 10_000
    text = message.get_body(("plain",)).get_content()
    assert "The attached CSV lists all 10000." in text


def test_full_changes_are_the_most_severe_ones():
    _, planned = _compose(10_000)
    html = planned.html
    shown_in_full = html.split("less severe change")[0]
    # 1000 critical events exist; the full part shows only critical ones, so no lesser badge there
    # apart from the header's counts.
    body = shown_in_full.split("By category:")[1]
    assert ">critical</span>" in body
    assert ">info</span>" not in body and ">minor</span>" not in body


def test_a_small_digest_is_shown_in_full():
    # Ten events, two of them 60-line eligibility diffs: about half the budget.
    _, planned = _compose(10)
    assert "counted per trial and category" not in planned.html
    assert planned.html.count("Overall status") == 2  # every 5th event is a status change
    assert planned.html.count("Eligibility criteria") == 2
