"""How fast the Trial Watch overview answers with 10,000 watched trials (budget: 500 ms per request).

Builds a SQLite store with 10,000 trials, 3 versions and about 5 change events each (bulk inserts),
then requests the overview as HTML and JSON, first page and a deep page, sorted by last change,
through FastAPI's TestClient. Authentication is satisfied by overriding the dependency here only.

    .venv/bin/python benchmarks/bench_ui_overview.py [--trials 10000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_MS = 500.0


def ui_client(store):  # type: ignore[no-untyped-def]
    """A TestClient on Trial Watch over ``store``, mounted where Airflow mounts it, login satisfied
    here only (``trialwatch_ui`` must be importable)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from trialwatch_ui.app import URL_PREFIX, create_app, require_user

    app = create_app(store)
    app.dependency_overrides[require_user] = lambda: None
    server = FastAPI()
    server.mount(URL_PREFIX, app)
    return TestClient(server, base_url=f"http://testserver{URL_PREFIX}/")


def build_store(url: str, trials: int):  # type: ignore[no-untyped-def]
    """Bulk-insert ``trials`` trials with 3 versions and ~5 events each, in two watchlists."""
    from sqlalchemy import insert
    from trialwatch.events import CATEGORIES, SEVERITIES
    from trialwatch.store import Store
    from trialwatch.store.codec import encode_record
    from trialwatch.store.models import ChangeEventRow, Study, StudyVersion, WatchlistTrial, event_key

    rng = random.Random(20261124)
    store = Store(url)
    store.upgrade()
    now = datetime(2026, 11, 24, tzinfo=UTC)
    statuses = ["RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED", "TERMINATED", "NOT_YET_RECRUITING"]
    studies, memberships, versions, events = [], [], [], []
    version_id = 0
    for i in range(trials):
        nct_id = f"NCT{10_000_000 + i:08d}"
        changed = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
        for number in (1, 2, 3):
            version_id += 1
            versions.append(
                {
                    "id": version_id,
                    "nct_id": nct_id,
                    "content_hash": f"{version_id:064x}",
                    "registry_version": number,
                    "registry_version_date": "2026-01-01",
                    "data_timestamp": "2026-11-24T08:00:00",
                    "fetched_at": changed - timedelta(days=3 - number),
                    "source": "current",
                    "record": encode_record({"protocolSection": {"identificationModule": {"nctId": nct_id}}}),
                }
            )
            for occurrence in range(rng.choice((2, 2, 3, 3)) if number > 1 else 0):
                events.append(
                    {
                        "nct_id": nct_id,
                        "version_id": version_id,
                        "category": rng.choice(CATEGORIES),
                        "field": "Overall status",
                        "path": "protocolSection.statusModule.overallStatus",
                        "old": "RECRUITING",
                        "new": "COMPLETED",
                        "severity": rng.choice(SEVERITIES),
                        "detail": "",
                        "old_version": number - 1,
                        "new_version": number,
                        "detected_at": changed,
                        "backfill": False,
                        # Set here: the column's default counts stored events, and an executemany
                        # stores none before it has computed them all (every key would collide).
                        "event_key": event_key(
                            nct_id,
                            version_id,
                            "protocolSection.statusModule.overallStatus",
                            "Overall status",
                            occurrence,
                        ),
                    }
                )
        studies.append(
            {
                "nct_id": nct_id,
                "title": f"A phase {rng.randrange(1, 4)} study of treatment {i} in condition {i % 97}",
                "overall_status": rng.choice(statuses),
                "enrollment_count": rng.randrange(10, 2000),
                "enrollment_type": "ESTIMATED",
                "current_version_id": version_id,
                "registry_version": 3,
                "first_seen_at": now - timedelta(days=400),
                "last_fetched_at": now,
                "last_changed_at": changed,
                "last_change_severity": rng.choice(SEVERITIES),
            }
        )
        memberships.append(
            {
                "watchlist": "oncology" if i % 10 else "hematology",
                "nct_id": nct_id,
                "via": "query",
                "first_seen_at": now - timedelta(days=400),
                "last_seen_at": now,
            }
        )
    with store.session() as session:
        session.execute(insert(Study), studies)
        session.execute(insert(WatchlistTrial), memberships)
        session.execute(insert(StudyVersion), versions)
        session.execute(insert(ChangeEventRow), events)
    return store, len(versions), len(events)


def measure(client, path: str, params: dict[str, object], repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    client.get(path, params=params).raise_for_status()  # warm-up: templates compiled, pages cached
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, params=params)
        timings.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    os.environ.setdefault("AIRFLOW_HOME", str(home / "airflow"))
    sys.path.insert(0, str(REPO / "plugins"))
    started = time.perf_counter()
    store, version_count, event_count = build_store(f"sqlite:///{home / 'store.db'}", args.trials)
    print(
        f"store: {args.trials} trials, {version_count} versions, {event_count} events "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    per_page = 50
    deep_page = args.trials // per_page - 1
    cases = [
        ("JSON first page", "/api/overview", {"page": 1}),
        ("JSON deep page", "/api/overview", {"page": deep_page}),
        ("HTML first page", "/", {"page": 1}),
        ("HTML deep page", "/", {"page": deep_page}),
        ("JSON deep, by severity", "/api/overview", {"page": deep_page, "sort": "severity"}),
        ("JSON search title", "/api/search", {"q": "condition 42"}),
    ]
    worst = 0.0
    with ui_client(store) as client:
        print(f"{'case':<24} {'median ms':>10} {'p95 ms':>8} {'p95/budget':>11}")
        for label, path, params in cases:
            params = {"sort": "last_change", "order": "desc", "per_page": per_page, **params}
            timings = sorted(measure(client, path, params, args.repeat))
            median = statistics.median(timings)
            p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
            worst = max(worst, p95)
            print(f"{label:<24} {median:>10.1f} {p95:>8.1f} {p95 / BUDGET_MS:>10.2f}x")
    store.dispose()
    print(f"worst p95 {worst:.1f} ms = {worst / BUDGET_MS:.2f} of the {BUDGET_MS:.0f} ms budget")
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
