"""Screenshot Trial Watch inside the Airflow UI: docs/ui-overview.png, ui-trial.png, ui-aggregated.png, ui-dark.png.

Fills a fresh store with replay days 1 and 2 through the real sync, starts ``airflow standalone`` on
free loopback ports with it, logs in, opens Trial Watch from the navigation and photographs the
overview and the seed trial's charts and timeline, in light mode and then the trial in dark mode;
in light mode also the trial's first aggregated event opened to its members.
Everything it starts is stopped before it exits.

Run: .venv/bin/python scripts/screenshot_ui.py [--out-dir docs] [--trial NCT02185781]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    parser.add_argument("--trial", default="NCT02185781", help="the trial whose page is photographed")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.ui.replay_store import fill_from_replay
    from tests.ui.standalone import airflow_standalone, launch_chromium, open_trial_watch

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trialwatch-screens-") as scratch:
        home = Path(scratch)
        store_url = f"sqlite:///{home / 'store.db'}"
        fill_from_replay(store_url)
        with airflow_standalone(home / "airflow", store_url) as airflow, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            written = []
            try:
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        viewport={"width": 1440, "height": 900}, device_scale_factor=1, color_scheme=scheme
                    )
                    page = context.new_page()
                    frame = open_trial_watch(page, airflow)
                    if scheme == "light":
                        written.append(args.out_dir / "ui-overview.png")
                        page.screenshot(path=str(written[-1]))
                    frame.get_by_role("link", name=args.trial).first.click()
                    frame.locator("ol.timeline").wait_for()
                    written.append(args.out_dir / ("ui-trial.png" if scheme == "light" else "ui-dark.png"))
                    page.screenshot(path=str(written[-1]))
                    aggregated = frame.locator("ol.timeline tr.aggregated").first
                    if scheme == "light" and aggregated.count():
                        # An aggregated event opened to its members, with its version around it.
                        aggregated.locator("summary").click()
                        written.append(args.out_dir / "ui-aggregated.png")
                        version = frame.locator("li.version", has=frame.locator("tr.aggregated")).first
                        version.screenshot(path=str(written[-1]))
                    context.close()
            finally:
                browser.close()
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
