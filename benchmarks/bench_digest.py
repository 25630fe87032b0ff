"""Cost and size of a 10,000-event digest: CPU seconds to prepare it, and the size of its parts.

Prepares the whole email as the digest DAG does (view, HTML within the size budget, text, CSV, MIME
message) from generated events, and prints the figures; asserts nothing about time. Targets: at most
2 s of CPU (time.process_time) and an HTML part under 100 KB.
Run: ``.venv/bin/python benchmarks/bench_digest.py [--events 10000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_CPU_S = 2.0
TARGET_HTML_KB = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from trialwatch.digest.compose import compose
    from trialwatch.digest.render import HealthView
    from trialwatch.watchlists import Watchlist

    from tests.digest.big_digest import many_events

    items, trials = many_events(args.events)
    watchlist = Watchlist(
        name="bench",
        path=REPO / "bench.yaml",
        title="Benchmark watchlist",
        recipients=("office@example.org",),
    )
    cpu: list[float] = []
    planned = None
    for _ in range(args.runs):
        start = time.process_time()
        planned = compose(
            key="bench",
            period="2026-11-23",
            recipient="office@example.org",
            sections=[(watchlist, items)],
            trials=trials,
            health=HealthView(data_timestamp="2026-11-23T09:00:05"),
            high_water=args.events,
            now=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
            sender="trialwatch@example.org",
            ui_url="https://airflow.example.org/trialwatch",
        )
        cpu.append(time.process_time() - start)
    assert planned is not None
    html_kb = len(planned.html.encode("utf-8")) / 1000
    print(f"digest of {args.events} events over {len(trials)} trials, {args.runs} runs")
    print(f"  CPU to prepare: median {statistics.median(cpu):.2f} s (target <= {TARGET_CPU_S:.0f} s)")
    print(f"  HTML part: {html_kb:.1f} KB (target < {TARGET_HTML_KB} KB)")
    print(f"  text part: {len(planned.text.encode('utf-8')) / 1000:.1f} KB")
    print(f"  CSV attachment: {len(planned.csv.encode('utf-8')) / 1000:.1f} KB, every event")
    print(f"  whole message: {len(planned.message) / 1000:.1f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
