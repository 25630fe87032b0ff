"""Screenshot a rendered digest in headless Chromium (light and dark) into docs/digest.png and docs/digest-dark.png.

Uses the demo store at TRIALWATCH_HOME when it holds change events (the next digest of its first
watchlist with any); otherwise renders changes built from the real registry records shipped in
replay/data/samples. Run: .venv/bin/python scripts/screenshot_digest.py [--out-dir docs]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from trialwatch import settings
from trialwatch.digest.render import (
    HealthView,
    StoredEvent,
    TrialInfo,
    digest_view,
    render_html,
)
from trialwatch.events import ChangeEvent

SAMPLES = settings.PACKAGE_DIR / "replay" / "data" / "samples"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _protocol(nct_id: str) -> dict:
    return json.loads((SAMPLES / f"study_{nct_id}.json").read_text())["protocolSection"]


def sample_digest_html() -> str:
    """A digest of plausible changes whose current values are the real records' values."""
    a, b = _protocol("NCT03934567"), _protocol("NCT06171568")
    sites = [
        {k: s.get(k) for k in ("facility", "city", "country")}
        for s in a["contactsLocationsModule"]["locations"]
    ]
    lines = a["eligibilityModule"]["eligibilityCriteria"].splitlines()
    earlier_criteria = "\n".join(lines[:3] + ["* Age 18 to 70 years"] + lines[4:])
    va = {"nct_id": "NCT03934567", "old_version": 14, "new_version": 15, "new_version_date": "2025-03-04"}
    vb = {"nct_id": "NCT06171568", "old_version": 3, "new_version": 4, "new_version_date": "2024-06-12"}
    events = [
        ChangeEvent(
            "status", "Overall status", "RECRUITING", a["statusModule"]["overallStatus"], "critical", **va
        ),
        ChangeEvent(
            "enrollment",
            "Enrollment",
            {"count": 120, "type": "ESTIMATED"},
            a["designModule"]["enrollmentInfo"],
            "major",
            detail="ESTIMATED → ACTUAL",
            **va,
        ),
        ChangeEvent(
            "dates",
            "Primary completion date",
            {"date": "2024-10-31", "type": "ESTIMATED"},
            a["statusModule"]["primaryCompletionDateStruct"],
            "major",
            **va,
        ),
        ChangeEvent(
            "sites",
            "Locations",
            sites[:-2],
            sites,
            "minor",
            extra={"added": sites[-2:]},
            nct_id="NCT03934567",
            old_version=13,
            new_version=14,
            new_version_date="2024-11-20",
        ),
        ChangeEvent(
            "eligibility",
            "Eligibility criteria",
            earlier_criteria,
            "\n".join(lines),
            "major",
            nct_id="NCT03934567",
            old_version=13,
            new_version=14,
            new_version_date="2024-11-20",
        ),
        ChangeEvent(
            "status", "Overall status", b["statusModule"]["overallStatus"], "RECRUITING", "major", **vb
        ),
        ChangeEvent(
            "dates",
            "Start date",
            b["statusModule"]["startDateStruct"],
            {"date": "2024-09-01", "type": "ESTIMATED"},
            "minor",
            **vb,
        ),
    ]
    trials = {
        "NCT03934567": TrialInfo(a["identificationModule"]["briefTitle"], a["statusModule"]["overallStatus"]),
        "NCT06171568": TrialInfo(b["identificationModule"]["briefTitle"], "RECRUITING"),
    }
    health = HealthView(
        data_timestamp="2026-11-23T09:00:05",
        last_sync_at="2026-11-24 06:00 UTC",
        last_sync_status="partial",
        last_success_at="2026-11-23 06:00 UTC",
        failures=[("NCT00184067", "HTTP 503 after 5 tries")],
        notes=["version history unavailable for NCT06171568, fell back to current-version diffs"],
    )

    class Sample:
        name, title, description = "nk", "NK-cell therapy in acute leukemia", ""

    view = digest_view(
        heading=Sample.title,
        sections=[(Sample, [StoredEvent(e) for e in events])],
        trials=trials,
        health=health,
        period_label="daily digest 2026-11-24",
        generated_at=datetime.now(UTC),
    )
    return render_html(view)


def store_digest_html(work: Path) -> str | None:
    """The next digest from the store at TRIALWATCH_HOME, if it has events and watchlists load."""
    store_file = settings.home() / "trialwatch.db"
    if not store_file.exists():
        return None
    from sqlalchemy import func, select
    from trialwatch.digest.service import preview
    from trialwatch.store.db import Store
    from trialwatch.store.models import ChangeEventRow
    from trialwatch.watchlists import load_watchlists

    store = Store(settings.store_url())
    try:
        with store.session() as session:
            if not session.scalar(select(func.count()).select_from(ChangeEventRow)):
                return None
        watchlists = list(load_watchlists())
        for watchlist in watchlists:
            paths = preview(store, watchlists, watchlist=watchlist.name, out_dir=work)
            html = next(p for p in paths if p.suffix == ".html").read_text()
            if "No changes" not in html and "change" in html:
                return html
        return None
    finally:
        store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--sample", action="store_true", help="ignore the store; render the sample changes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        html = None if args.sample else store_digest_html(work)
        source = "store" if html else "samples"
        page_file = work / "digest.html"
        page_file.write_text(html or sample_digest_html(), encoding="utf-8")
        args.out_dir.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
            )
            try:
                for scheme, name in (("light", "digest.png"), ("dark", "digest-dark.png")):
                    page = browser.new_page(viewport={"width": 680, "height": 900}, color_scheme=scheme)
                    page.goto(page_file.as_uri())
                    page.screenshot(path=str(args.out_dir / name), full_page=True)
                    page.close()
                    print(args.out_dir / name, f"({scheme}, from {source})")
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
