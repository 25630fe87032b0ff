"""Screenshot the newest digest in the store, as it was sent, in headless Chromium (light and dark).

Reads the store at TRIALWATCH_HOME (`make screenshots` points it at the demo's `.demo/` after
running the demo if needed) and writes docs/digest.png and docs/digest-dark.png; then
docs/digest-aggregated.png: the digest of a re-opened trial whose 221 sites changed status together
(the corpus pair rebuilt from the real NCT02552212 record), one row with its first members.
Run: TRIALWATCH_HOME=.demo .venv/bin/python scripts/screenshot_digest.py [--out-dir docs]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select
from trialwatch import settings
from trialwatch.diff import diff_studies
from trialwatch.digest.render import fitted_digest
from trialwatch.events import StoredEvent
from trialwatch.records import TrialInfo
from trialwatch.store import Store
from trialwatch.store.models import DigestOutbox

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def newest_sent_digest_html(store: Store) -> tuple[str, str]:
    """(subject, HTML part) of the newest digest the store has sent."""
    with store.session() as session:
        row = session.scalars(
            # Email only: webhook, Slack and Teams rows hold JSON, not a message.
            select(DigestOutbox)
            .where(DigestOutbox.status == "sent", DigestOutbox.channel == "email")
            .order_by(DigestOutbox.sent_at.desc())
        ).first()
        if row is None:
            raise SystemExit(f"{store!r} has sent no digest yet: run `make demo` first")
        message = email.message_from_string(row.message, policy=email.policy.default)
    html = message.get_body(preferencelist=("html",))
    if html is None:
        raise SystemExit(f"digest {row.message_id} has no HTML part")
    return str(message["Subject"]), html.get_content()


def aggregated_digest_html() -> str:
    """A digest of the corpus's re-opening pair: 221 site status changes as one aggregated row."""
    sys.path.insert(0, str(REPO))
    from tests.corpus.pairs import PAIRS

    old, new = next(pair for pair in PAIRS if pair.name == "reopen-221-sites").build()
    events = diff_studies(old, new)
    nct_id = events[0].nct_id
    title = new["protocolSection"]["identificationModule"]["briefTitle"]
    watchlist = SimpleNamespace(name="covid", title="COVID-19 treatment trials", description="")
    _, html = fitted_digest(
        heading="COVID-19 treatment trials",
        sections=[(watchlist, [StoredEvent(event) for event in events])],
        trials={
            nct_id: TrialInfo(title=title, status=new["protocolSection"]["statusModule"]["overallStatus"])
        },
        health=None,
        period_label="example",
        generated_at=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
    )
    return html


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    store = Store(settings.store_url())
    subject, html = newest_sent_digest_html(store)
    store.dispose()
    with tempfile.TemporaryDirectory() as work_dir:
        page_file = Path(work_dir) / "digest.html"
        page_file.write_text(html, encoding="utf-8")
        args.out_dir.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
            )
            try:
                example_file = Path(work_dir) / "digest-aggregated.html"
                example_file.write_text(aggregated_digest_html(), encoding="utf-8")
                for scheme, name, source in (
                    ("light", "digest.png", page_file),
                    ("dark", "digest-dark.png", page_file),
                    ("light", "digest-aggregated.png", example_file),
                ):
                    page = browser.new_page(viewport={"width": 680, "height": 900}, color_scheme=scheme)
                    page.goto(source.as_uri())
                    page.screenshot(path=str(args.out_dir / name), full_page=True)
                    page.close()
                    print(
                        f"{args.out_dir / name} ({scheme}): {subject if source == page_file else 'example'}"
                    )
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
