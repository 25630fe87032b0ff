"""Aggregated events in the digest: one row with its count, the first members listed, one CSV row
per member, and a digest of many large aggregated events still inside the HTML budget."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from trialwatch.digest.render import (
    CSV_COLUMNS,
    HTML_BUDGET_BYTES,
    MAX_MEMBERS_SHOWN,
    fitted_digest,
    render_csv,
    render_event_list,
    render_text,
)
from trialwatch.events import ChangeEvent, StoredEvent
from trialwatch.records import TrialInfo

NCT = "NCT02552212"
SITES = [f"Site {n:03d}, Springfield {n}, Illinois, United States" for n in range(1, 222)]


def reopened(nct_id: str = NCT, members: list[str] = SITES) -> ChangeEvent:
    return ChangeEvent(
        "sites",
        "Site recruitment status",
        "NOT_YET_RECRUITING",
        "RECRUITING",
        "minor",
        path="protocolSection.contactsLocationsModule.locations.status",
        detail=f"{len(members)} sites",
        nct_id=nct_id,
        old_version=40,
        new_version=41,
        extra={"count": len(members), "members": members},
    )


POSTAL = ChangeEvent(
    "sites",
    "Site postal code",
    None,
    "3 sites",
    "info",
    path="protocolSection.contactsLocationsModule.locations.zip",
    detail="3 sites with postal code added",
    nct_id=NCT,
    extra={
        "count": 3,
        "members": [
            "A, Kraków, Poland: — → 30-001",
            "B, Toruń, Poland: — → 87-100",
            "C, Łódź, Poland: — → 90-001",
        ],
    },
)


def test_text_reads_one_row_with_its_count_and_a_capped_member_list() -> None:
    text = render_event_list([reopened()], "text")
    assert "221 sites: Not yet recruiting -> Recruiting" in text
    listed = re.findall(r"^ +\* (.+)$", text, flags=re.MULTILINE)
    assert listed == SITES[:MAX_MEMBERS_SHOWN]
    assert f"... and {221 - MAX_MEMBERS_SHOWN} more" in text
    assert SITES[MAX_MEMBERS_SHOWN] not in text
    # One event, one row: the severity tag appears once.
    assert text.count("[MINOR]") == 1


def test_html_lists_the_first_members_without_details_element() -> None:
    html = render_event_list([reopened()], "html")
    assert re.search(r"<strong>221 sites:</strong>\s*<span[^>]*>Not yet recruiting</span>", html)
    items = re.findall(r"<li>(.*?)</li>", html)
    assert items == SITES[:MAX_MEMBERS_SHOWN]
    assert f"&hellip; and {221 - MAX_MEMBERS_SHOWN} more" in html
    assert "<details" not in html


def test_members_with_values_of_their_own_lead_without_old_and_new() -> None:
    text = render_event_list([POSTAL], "text")
    assert "    3 sites with postal code added\n" in text
    assert "-> 3 sites" not in text
    assert re.findall(r"^ +\* (.+)$", text, flags=re.MULTILINE) == POSTAL.members
    assert " more" not in text  # all three are listed


def test_members_are_escaped_in_html() -> None:
    hostile = reopened(members=['<img src=x onerror="alert(1)">, Paris, France', "B, Lyon, France"])
    html = render_event_list([hostile], "html")
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_csv_has_one_row_per_member_and_one_for_a_single_change() -> None:
    single = ChangeEvent("enrollment", "Enrollment", 100, 120, "minor", nct_id=NCT)
    text = render_csv([StoredEvent(reopened()), StoredEvent(single)], {NCT: TrialInfo(title="A trial")})
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert reader.fieldnames == list(CSV_COLUMNS)
    assert len(rows) == 221 + 1
    site_rows = [r for r in rows if r["category"] == "sites"]
    assert [r["member"] for r in site_rows] == SITES
    assert {(r["old"], r["new"], r["severity"], r["versions"]) for r in site_rows} == {
        ("NOT_YET_RECRUITING", "RECRUITING", "minor", "40→41")
    }
    [enrollment] = [r for r in rows if r["category"] == "enrollment"]
    assert enrollment["member"] == ""


def test_many_large_aggregated_events_fit_the_html_budget() -> None:
    # 300 trials each re-opening 221 sites with long names: members alone would be megabytes.
    long_sites = [f"{name}, a very long hospital name repeated for size, Springfield" for name in SITES]
    items = [StoredEvent(reopened(f"NCT{n:08d}", long_sites)) for n in range(1, 301)]
    trials = {item.event.nct_id: TrialInfo(title="Trial") for item in items}
    view, html = fitted_digest(
        heading="Sites",
        sections=[(None, items)],
        trials=trials,
        health=None,
        period_label="2026-11-23",
        generated_at=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
    )
    assert len(html.encode("utf-8")) <= HTML_BUDGET_BYTES
    assert view.event_count == 300
    assert "221 sites:" in html
    assert "221 sites:" in render_text(view)
