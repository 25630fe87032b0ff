"""Screenshot the newest digest in the store, as it was sent, in headless Chromium (light and dark).

Reads the store at TRIALWATCH_HOME (`make screenshots` points it at the demo's `.demo/` after
running the demo if needed) and writes docs/digest.png and docs/digest-dark.png.
Run: TRIALWATCH_HOME=.demo .venv/bin/python scripts/screenshot_digest.py [--out-dir docs]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import tempfile
from pathlib import Path

from sqlalchemy import select
from trialwatch import settings
from trialwatch.store import Store
from trialwatch.store.models import DigestOutbox

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
            select(DigestOutbox).where(DigestOutbox.status == "sent").order_by(DigestOutbox.sent_at.desc())
        ).first()
        if row is None:
            raise SystemExit(f"{store!r} has sent no digest yet: run `make demo` first")
        message = email.message_from_string(row.message, policy=email.policy.default)
    html = message.get_body(preferencelist=("html",))
    if html is None:
        raise SystemExit(f"digest {row.message_id} has no HTML part")
    return str(message["Subject"]), html.get_content()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
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
                for scheme, name in (("light", "digest.png"), ("dark", "digest-dark.png")):
                    page = browser.new_page(viewport={"width": 680, "height": 900}, color_scheme=scheme)
                    page.goto(page_file.as_uri())
                    page.screenshot(path=str(args.out_dir / name), full_page=True)
                    page.close()
                    print(f"{args.out_dir / name} ({scheme}): {subject}")
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
