"""What the reader gets: message structure, escaping, header safety, text/HTML parity, CSV and Atom."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
import xml.etree.ElementTree as ET
from email import message_from_bytes, message_from_string, policy
from html.parser import HTMLParser

from sqlalchemy import func, select
from trialwatch.digest.feed import atom_feed
from trialwatch.digest.message import message_id_for, sanitise_header
from trialwatch.digest.render import render_event_list
from trialwatch.digest.service import prepare_digests, preview
from trialwatch.events import ChangeEvent
from trialwatch.store.models import DigestOutbox

from .conftest import HOSTILE_TITLE, NOW, SENDER, Watchlist, sample_events

ATOM = "{http://www.w3.org/2005/Atom}"


def nk(**overrides) -> Watchlist:
    values = {"name": "nk", "title": "NK-cell therapy in acute leukemia", "recipients": ("ana@example.org",)}
    values.update(overrides)
    return Watchlist(**values)


def queued_message(store, watchlist=None):
    prepare_digests(store, [watchlist or nk()], watchlist="nk", sender=SENDER, now=NOW)
    with store.session() as session:
        row = session.scalars(select(DigestOutbox)).one()
        return row, message_from_string(row.message, policy=policy.SMTP)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.hrefs: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "title"):
            self._skip += 1
        self.hrefs += [value for name, value in attrs if name == "href"]

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


def visible_text(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.chunks).split()), parser.hrefs


def test_message_structure_and_headers(seeded):
    row, message = queued_message(seeded)
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["multipart/alternative", "text/csv"]
    assert [p.get_content_type() for p in parts[0].iter_parts()] == ["text/plain", "text/html"]
    assert parts[1].get_filename() == f"trialwatch-nk-{row.period_key}.csv"
    assert message["Message-ID"] == message_id_for("nk", row.period_key, "ana@example.org")
    assert re.fullmatch(r"<[0-9a-f]{32}@trialwatch>", message["Message-ID"])
    assert message["List-Id"].endswith("<nk.trialwatch.local>")
    assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
    assert (
        message["Subject"] == "[trialwatch] NK-cell therapy in acute leukemia: 1 critical, 4 major, 3 minor"
    )


def test_registry_text_is_escaped_and_cannot_inject_headers(seeded):
    row, message = queued_message(seeded, nk(title="NK cells\r\nBcc: victim@example.org"))
    raw = row.message
    assert "\nBcc:" not in raw and "\rBcc:" not in raw
    assert message["Bcc"] is None
    assert message["Subject"].startswith("[trialwatch] NK cells Bcc: victim@example.org:")
    html = message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "evil.example" not in "".join(visible_text(html)[1])
    assert '<a href="https://evil.example' not in html
    _, hrefs = visible_text(html)
    assert hrefs and all(href.startswith("https://clinicaltrials.gov/study/NCT") for href in hrefs)
    text = message.get_body(("plain",)).get_content()
    assert "<script>alert(1)</script> Phase 2 of CAR-NK Bcc: victim@example.org" in text  # one line in text


def test_sanitise_header_makes_one_line():
    assert sanitise_header("a\r\nBcc: x@y\x00z") == "a Bcc: x@y z"
    assert len(sanitise_header("x" * 500)) == 200


def test_text_and_html_state_the_same_facts(seeded):
    _, message = queued_message(seeded)
    text = " ".join(message.get_body(("plain",)).get_content().split())
    html_text, _ = visible_text(message.get_body(("html",)).get_content())
    facts = [
        "NK-cell therapy in acute leukemia",
        "8 changes in 3 trials",
        "1 critical",
        "4 major",
        "3 minor",
        "NCT03934567",
        "Active, not recruiting",
        "A Multi-Center Phase 2 Study to Evaluate Efficacy and Safety of Oral",
        "version 15 (2025-03-04), compared with version 14",
        "Recruiting",
        "2024-10-31 (estimated)",
        "2025-01-29 (actual)",
        "slipped 90 days",
        "estimated → actual",
        "+27.5%",  # 120 → 87 is -27.5%; checked below as the actual sign
        "Age 18 to 70 years",
        "Registry data as of: 2026-11-23T09:00:05",
        "Last successful sync: 2026-11-23 06:00 UTC",
        "NCT00184067: HTTP 503 after 5 tries",
        "version history unavailable for NCT06171568, fell back to current-version diffs",
        HOSTILE_TITLE.replace("\r\n", " "),
    ]
    facts[facts.index("+27.5%")] = "-27.5%"
    for fact in facts:
        assert fact in text, f"text part lacks {fact!r}"
        assert fact in html_text, f"HTML part lacks {fact!r}"
    assert "NCT09999999" not in text and "NCT09999999" not in html_text  # failure of an unwatched trial
    assert "Contact" not in text  # info-level change is below the watchlist's min_severity
    added_sites = next(e for e in sample_events() if e.category == "sites").extra["added"]
    for site in added_sites:
        assert site["facility"] in text and site["facility"] in html_text


def test_csv_attachment_has_one_row_per_event(seeded):
    _, message = queued_message(seeded)
    attachment = next(p for p in message.iter_attachments() if p.get_content_type() == "text/csv")
    reader = csv.DictReader(io.StringIO(attachment.get_content(), newline=""))
    rows = list(reader)
    assert reader.fieldnames == [
        "kind",
        "nct_id",
        "title",
        "category",
        "field",
        "member",
        "old",
        "new",
        "old_label",
        "new_label",
        "severity",
        "detail",
        "versions",
        "compare_url",
        "rule",
        "certainty",
    ]
    assert len(rows) == 8
    assert {r["kind"] for r in rows} == {"change"}  # no findings stored: change rows only
    status = next(r for r in rows if r["nct_id"] == "NCT03934567" and r["category"] == "status")
    assert (status["old"], status["new"], status["severity"], status["versions"]) == (
        "RECRUITING",
        "ACTIVE_NOT_RECRUITING",
        "critical",
        "14→15",
    )
    assert (status["old_label"], status["new_label"]) == ("Recruiting", "Active, not recruiting")
    assert (
        status["compare_url"]
        == "https://clinicaltrials.gov/study/NCT03934567?tab=history&a=14&b=15#version-content-panel"
    )
    hostile = next(r for r in rows if r["nct_id"] == "NCT03475563")
    assert hostile["title"] == HOSTILE_TITLE


def test_csv_cells_do_not_run_as_spreadsheet_formulas():
    from trialwatch.digest.render import StoredEvent, TrialInfo, render_csv

    event = ChangeEvent("other", "Acronym", '=HYPERLINK("http://x")', "-12", "minor", nct_id="NCT03934567")
    text = render_csv([StoredEvent(event)], {"NCT03934567": TrialInfo("@SUM(A1)")})
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["old"] == '\'=HYPERLINK("http://x")'
    assert row["title"] == "'@SUM(A1)"
    assert row["new"] == "-12"


def test_atom_feed_parses_with_an_entry_per_event(seeded):
    feed = ET.fromstring(atom_feed(seeded, nk()))
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 8
    for entry in entries:
        assert entry.find(f"{ATOM}id").text.startswith("urn:trialwatch:watchlist:")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.find(f"{ATOM}updated").text)
        links = [link.get("href") for link in entry.findall(f"{ATOM}link")]
        assert links and all(href.startswith("https://clinicaltrials.gov/study/NCT") for href in links)
    titles = [entry.find(f"{ATOM}title").text for entry in entries]
    assert "NCT03934567: Overall status (critical): Recruiting → Active, not recruiting" in titles
    only_status = ET.fromstring(atom_feed(seeded, nk(categories=("status",)), limit=2)).findall(
        f"{ATOM}entry"
    )
    assert len(only_status) == 2


def test_preview_writes_files_and_queues_nothing(seeded, tmp_path):
    paths = preview(seeded, [nk()], watchlist="nk", sender=SENDER, out_dir=tmp_path)
    assert sorted(p.suffix for p in paths) == sorted([".eml", ".html", ".txt", ".csv", ".xml"])
    eml = message_from_bytes(next(p for p in paths if p.suffix == ".eml").read_bytes(), policy=policy.SMTP)
    assert eml["Subject"].startswith("[trialwatch] NK-cell therapy in acute leukemia:")
    with seeded.session() as session:
        assert session.scalar(select(func.count()).select_from(DigestOutbox)) == 0


def test_no_events_means_no_row(store):
    assert prepare_digests(store, [nk()], watchlist="nk", sender=SENDER, now=NOW) == []
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(DigestOutbox)) == 0


def test_render_event_list_text_and_html():
    events = sample_events()
    text = render_event_list(events, "text")
    html = render_event_list(events, "html")
    assert "NCT06171568" in text and "Not yet recruiting -> Recruiting" in text
    assert html.startswith("<!DOCTYPE html>") and 'name="color-scheme"' in html
    assert "&lt;a href=&#34;https://evil.example/x&#34;&gt;" in html
    assert 'href="https://evil.example' not in html
    assert "No material changes." in render_event_list([], "text")
    assert html_lib.unescape(visible_text(html)[0]).count("NCT03934567") >= 1
