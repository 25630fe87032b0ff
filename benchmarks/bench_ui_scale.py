"""Trial Watch at registry scale: every page a reader opens, timed over HTTP (target: p95 < 200 ms).

Builds a store per backend with a registry-wide watchlist (every study), uneven versions and change
events (most trials a few, a handful thousands), some open findings and a second, small watchlist;
then requests the overview (first page, deep page by number and by cursor, every sort, each filter),
search (NCT id, id prefix, a common and a rare title word) and the heaviest trial's page through
FastAPI's TestClient. Each backend is timed at a small baseline size first, in the same run, so the
figures compare on a noisy machine. PostgreSQL runs in a throwaway database created and dropped here;
it is VACUUM ANALYZEd after the bulk load, as autovacuum would do.

    .venv/bin/python benchmarks/bench_ui_scale.py --trials 606000 --events 3000000 --backends sqlite,postgres
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui_overview import ui_client  # Trial Watch mounted as Airflow does, login satisfied

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 200.0
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
CHUNK = 10_000  # trials per bulk insert round
HEAVY_EVENTS = (6000, 4000, 2500, 1500, 1000)  # the few trials with thousands of events
RARE_WORD = "zolbetuximab"
SYLLABLES = ["ka", "lo", "mi", "ne", "tu", "ra", "zi", "vo", "pe", "sa", "do", "fi", "gu", "be", "xo"]
CONDITIONS = [
    "breast cancer", "lung cancer", "leukemia", "lymphoma", "melanoma", "diabetes", "asthma", "covid-19",
    "heart failure", "hypertension", "depression", "schizophrenia", "hiv", "hepatitis c", "obesity",
    "stroke", "psoriasis", "arthritis", "multiple myeloma", "prostate cancer", "glioblastoma", "sepsis",
]  # fmt: skip
STATUSES = ["RECRUITING", "COMPLETED", "ACTIVE_NOT_RECRUITING", "TERMINATED", "NOT_YET_RECRUITING",
            "WITHDRAWN", "UNKNOWN", "ENROLLING_BY_INVITATION", "SUSPENDED"]  # fmt: skip


class Backend:
    """A throwaway store: a SQLite file, or a PostgreSQL database created and dropped here."""

    def __init__(self, kind: str, pg_url: str, workdir: Path, keep: str | None = None) -> None:
        """``keep``: a name under which the store outlives the run, to be reused (and migrated) later."""
        from sqlalchemy import create_engine, make_url, text

        self.kind = kind
        self.keep = keep
        self._admin = None
        self.exists = False
        if kind == "sqlite":
            self.path = workdir / f"{keep or 'bench-' + uuid.uuid4().hex[:8]}.sqlite"
            self.exists = self.path.exists()
            self.url = f"sqlite:///{self.path}"
        else:
            self.name = f"trialwatch_uiscale_{keep or uuid.uuid4().hex[:8]}"
            self._admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
            with self._admin.connect() as connection:
                self.exists = bool(
                    connection.execute(
                        text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.name}
                    ).scalar()
                )
                if not self.exists:
                    connection.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = make_url(pg_url).set(database=self.name).render_as_string(hide_password=False)

    def settle(self, store: Any) -> None:
        """PostgreSQL: statistics and visibility map as autovacuum leaves them after a load."""
        from sqlalchemy import text

        if self.kind == "postgres":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))

    def size_mb(self, store: Any) -> float:
        from sqlalchemy import text

        if self.kind == "sqlite":
            files = [self.path, Path(f"{self.path}-wal")]
            return sum(f.stat().st_size for f in files if f.exists()) / 2**20
        with store.engine.connect() as connection:
            return (
                connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one() / 2**20
            )

    def drop(self) -> None:
        from sqlalchemy import text

        if self.keep:
            if self._admin is not None:
                self._admin.dispose()
            return
        if self._admin is not None:
            with self._admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()
        elif self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def event_counts(rng: random.Random, trials: int, events: int) -> list[int]:
    """Events per trial: a Pareto spread (most a few, many none), plus the heavy trials, summing to ``events``."""
    heavy = [n for n in HEAVY_EVENTS if n * 20 <= events][: max(1, trials // 1000)]
    rest = events - sum(heavy)
    weights = [0.0 if rng.random() < 0.35 else rng.paretovariate(1.6) for _ in range(trials - len(heavy))]
    total = sum(weights)
    counts = [min(400, int(w * rest / total)) for w in weights]
    short = rest - sum(counts)
    while short > 0:  # the rounding and the cap, spread over random trials that have events
        i = rng.randrange(len(counts))
        if weights[i] and counts[i] < 400:
            add = min(short, 3)
            counts[i] += add
            short -= add
    return heavy + counts


def _copy_text(value: Any, column: Any) -> str:
    """One value in COPY's text format: \\N for NULL, backslash escapes for the rest."""
    from sqlalchemy import JSON

    if value is None:
        return "\\N"
    if isinstance(column.type, JSON):
        value = json.dumps(value)
    elif isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, bytes):
        value = "\\x" + value.hex()  # bytea's hex input form
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(session: Any, table: Any, batch: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY: several times faster than INSERT for a bulk load."""
    columns = [column for column in table.columns if column.name in batch[0]]
    buffer = io.StringIO()
    for row in batch:
        buffer.write("\t".join(_copy_text(row.get(c.name), c) for c in columns) + "\n")
    buffer.seek(0)
    names = ", ".join(column.name for column in columns)
    cursor = session.connection().connection.cursor()
    cursor.copy_expert(f"COPY {table.name} ({names}) FROM STDIN", buffer)


def _bulk_load_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-6000000")  # KiB: the whole load stays in memory until it commits
    cursor.close()


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4)))) + rng.choice(
        ("mab", "nib", "stat", "tide")
    )


def build_store(backend: Backend, trials: int, events: int, seed: int = 20261124) -> dict[str, Any]:
    """Bulk-insert the store (Core executemany in chunks); return the facts the requests need."""
    from sqlalchemy import event, insert
    from trialwatch.events import CATEGORIES
    from trialwatch.findings import CODES
    from trialwatch.store import Store
    from trialwatch.store.codec import encode_record
    from trialwatch.store.models import (
        ChangeEventRow,
        FindingRow,
        Study,
        StudyVersion,
        SyncRun,
        WatchlistTrial,
        event_key,
    )

    rng = random.Random(seed)
    store = Store(backend.url)
    store.upgrade()
    if backend.kind == "sqlite":
        # The load is one transaction: a cache that holds it writes each page once, at the commit.
        store.dispose()
        event.listen(store.engine, "connect", _bulk_load_pragmas)
    now = datetime(2026, 11, 24, 8, tzinfo=UTC)
    drugs = [pseudo_word(rng) for _ in range(3000)]
    drug_weights = [1 / (rank + 1) for rank in range(len(drugs))]
    ids = sorted(rng.sample(range(100, 7_300_000), trials))
    counts = event_counts(rng, trials, events)
    rng.shuffle(counts)
    heaviest = max(range(trials), key=counts.__getitem__)
    severities = ("critical", "major", "minor", "info")
    severity_weights = (1, 6, 25, 68)
    has_last_posted = hasattr(Study, "last_posted")  # the denormalised posting date, where the schema has it
    with store.session() as session:
        session.execute(insert(SyncRun), [{"id": 1, "started_at": now, "finished_at": now, "status": "ok"}])
    version_id = event_id = finding_id = 0
    totals = {"versions": 0, "events": 0, "findings": 0}
    loading = store.session()
    session = loading.__enter__()
    for start in range(0, trials, CHUNK):
        studies, members, versions, rows, findings = [], [], [], [], []
        for i in range(start, min(start + CHUNK, trials)):
            nct_id = f"NCT{ids[i]:08d}"
            n_events = counts[i]
            n_versions = 1 + (min(80, math.ceil(n_events / 4)) if n_events else rng.choice((0, 0, 1, 2)))
            first_posted = datetime(2000, 1, 1) + timedelta(days=rng.randrange(0, 9000))
            posted = first_posted
            span = max(1, (datetime(2026, 11, 1) - first_posted).days)
            trial_versions = []
            for number in range(1, n_versions + 1):
                version_id += 1
                posted = posted + timedelta(days=rng.randrange(1, max(2, span // n_versions)))
                date = posted.date().isoformat()
                trial_versions.append((version_id, number, date))
                # One version in ten has no history entry: its date comes from the record itself.
                known = rng.random() > 0.1
                versions.append(
                    {
                        "id": version_id,
                        "nct_id": nct_id,
                        "content_hash": f"{version_id:064x}",
                        "version_key": f"v{number}",
                        "registry_version": number,
                        "registry_version_date": date if known else None,
                        "data_timestamp": "2026-11-24T08:00:00",
                        "fetched_at": now - timedelta(days=n_versions - number),
                        "source": "history" if number < n_versions else "current",
                        "record": encode_record(
                            {
                                "protocolSection": {
                                    "identificationModule": {"nctId": nct_id},
                                    "statusModule": {"lastUpdatePostDateStruct": {"date": date}},
                                }
                            }
                        ),
                        "posted": date,
                    }
                )
            changed, worst = None, None
            seen: dict[int, int] = {}
            for _ in range(n_events):
                vid, number, date = trial_versions[rng.randrange(1, n_versions)]
                event_id += 1
                occurrence = seen.get(vid, 0)
                seen[vid] = occurrence + 1
                severity = rng.choices(severities, severity_weights)[0]
                detected = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 700))
                backfill = rng.random() < 0.3
                if not backfill:
                    if changed is None or detected > changed:
                        changed = detected
                    if worst is None or severities.index(severity) < severities.index(worst):
                        worst = severity
                path = f"protocolSection.statusModule.field{occurrence % 40}"
                field = f"Field {occurrence % 40}"
                rows.append(
                    {
                        "id": event_id,
                        "nct_id": nct_id,
                        "version_id": vid,
                        "category": rng.choice(CATEGORIES),
                        "field": field,
                        "path": path,
                        "old": "RECRUITING",
                        "new": "COMPLETED",
                        "severity": severity,
                        "detail": "",
                        "old_version": number - 1,
                        "new_version": number,
                        "new_version_date": date,
                        "detected_at": detected,
                        "backfill": backfill,
                        "event_key": event_key(nct_id, vid, path, field, occurrence // 40),
                    }
                )
            current_id, current_number, current_date = trial_versions[-1]
            condition = rng.choice(CONDITIONS)
            drug = RARE_WORD if rng.random() < 0.0001 else rng.choices(drugs, drug_weights)[0]
            study = {
                "nct_id": nct_id,
                "title": f"A Phase {rng.randrange(1, 4)} Study of {drug.title()} in Patients With {condition.title()}",
                "overall_status": rng.choice(STATUSES),
                "enrollment_count": None if rng.random() < 0.02 else rng.randrange(0, 5000),
                "enrollment_type": rng.choice(("ESTIMATED", "ACTUAL")),
                "current_version_id": current_id,
                "current_hash": f"{current_id:064x}",
                "registry_version": current_number,
                "first_seen_at": now - timedelta(days=400),
                "last_fetched_at": now,
                "last_changed_at": changed,
                "last_change_severity": worst,
            }
            if has_last_posted:
                study["last_posted"] = current_date
            studies.append(study)
            members.append({"watchlist": "registry", "nct_id": nct_id, "via": "query",
                            "first_seen_at": now, "last_seen_at": now})  # fmt: skip
            if "cancer" in condition or condition in ("leukemia", "lymphoma", "melanoma", "multiple myeloma"):
                left = rng.random() < 0.02
                members.append({"watchlist": "oncology", "nct_id": nct_id, "via": "query",
                                "first_seen_at": now, "last_seen_at": now,
                                "left_at": now if left else None})  # fmt: skip
            if rng.random() < 0.03:
                finding_id += 1
                code = rng.choice(CODES)
                findings.append(
                    {
                        "id": finding_id,
                        "key": f"{code}:{nct_id}",
                        "nct_id": nct_id,
                        "code": code,
                        "category": "results",
                        "severity": "major",
                        "title": "A finding",
                        "detail": "",
                        "rule": "rule",
                        "certainty": "high",
                        "evidence": {},
                        "first_seen_at": now,
                        "last_seen_at": now,
                        "opened_run_id": 1,
                        "open_key": f"{code}:{nct_id}",
                    }
                )
        for model, batch in ((Study, studies), (WatchlistTrial, members), (StudyVersion, versions),
                             (ChangeEventRow, rows), (FindingRow, findings)):  # fmt: skip
            if not batch:
                continue
            if backend.kind == "postgres":
                copy_rows(session, model.__table__, batch)
            else:
                session.execute(insert(model), batch)
        totals["versions"] += len(versions)
        totals["events"] += len(rows)
        totals["findings"] += len(findings)
    loading.__exit__(None, None, None)
    if backend.kind == "sqlite":
        event.remove(store.engine, "connect", _bulk_load_pragmas)
        store.dispose()
    backend.settle(store)
    oncology = next(i for i in range(trials) if counts[i] >= 0)  # any trial id works for the id search
    return {
        "store": store,
        "heaviest": f"NCT{ids[heaviest]:08d}",
        "heaviest_events": counts[heaviest],
        "some_id": f"NCT{ids[(oncology + trials // 2) % trials]:08d}",
        "common_word": drugs[0],
        **totals,
    }


def measure(client: Any, path: str, params: dict[str, Any], repeat: int, budget_s: float) -> list[float]:
    client.get(path, params=params).raise_for_status()  # warm-up: templates compiled, pages cached
    timings: list[float] = []
    spent = time.perf_counter()
    while len(timings) < repeat and (len(timings) < 3 or time.perf_counter() - spent < budget_s):
        start = time.perf_counter()
        response = client.get(path, params=params)
        timings.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return timings


def cases(facts: dict[str, Any], client: Any, trials: int) -> list[tuple[str, str, dict[str, Any]]]:
    per_page = 50
    deep = max(2, min(5000, trials // per_page - 2))
    print(f"  deep page: {deep}; heaviest trial: {facts['heaviest_events']} events")
    listed = [
        ("overview first page (HTML)", "/", {}),
        ("overview first page (JSON)", "/api/overview", {}),
        ("overview deep page by number", "/api/overview", {"page": deep}),
    ]
    # The cursor a reader holds after walking to that page: taken once, untimed.
    body = client.get("/api/overview", params={"page": deep - 1, "per_page": per_page}).json()
    if body.get("next_cursor"):
        listed.append(("overview deep page by cursor", "/api/overview", {"after": body["next_cursor"]}))
        listed.append(("overview deep page by cursor (HTML)", "/", {"after": body["next_cursor"]}))
    for sort in ("detected", "nct_id", "title", "status", "enrollment", "severity", "watchlist"):
        listed.append((f"sort {sort} desc", "/api/overview", {"sort": sort}))
    for sort in ("last_change", "title", "enrollment", "severity"):
        listed.append((f"sort {sort} asc", "/api/overview", {"sort": sort, "order": "asc"}))
    listed += [
        ("filter watchlist=oncology", "/api/overview", {"watchlist": "oncology"}),
        ("filter finding=any", "/api/overview", {"finding": "any"}),
        ("filter finding=any, by severity", "/api/overview", {"finding": "any", "sort": "severity"}),
        ("search NCT id", "/search", {"q": facts["some_id"]}),
        ("search NCT prefix", "/api/search", {"q": facts["some_id"][:7]}),
        ("search common title word", "/search", {"q": facts["common_word"]}),
        ("search rare title word", "/search", {"q": RARE_WORD}),
        ("search no match", "/api/search", {"q": "qqqxqqq"}),
        ("trial page, heaviest (HTML)", f"/trials/{facts['heaviest']}", {}),
        ("trial, heaviest (JSON)", f"/api/trials/{facts['heaviest']}", {}),
    ]
    return listed


def run_backend(
    kind: str, trials: int, events: int, args: argparse.Namespace, workdir: Path
) -> dict[str, float]:
    keep = f"{trials}x{events}" if args.keep else None
    backend = Backend(kind, args.pg_url, Path(args.keep) if args.keep else workdir, keep)
    facts_file = Path(args.keep or workdir) / f"{kind}-{trials}x{events}.json"
    try:
        started = time.perf_counter()
        if backend.exists and facts_file.exists():
            from trialwatch.store import Store

            facts = json.loads(facts_file.read_text())
            facts["store"] = Store(backend.url)
            facts["store"].upgrade()
            backend.settle(facts["store"])
            how = f"kept store brought to the newest schema in {time.perf_counter() - started:.1f} s"
        else:
            facts = build_store(backend, trials, events)
            facts_file.write_text(json.dumps({k: v for k, v in facts.items() if k != "store"}))
            how = f"built in {time.perf_counter() - started:.1f} s"
        store = facts["store"]
        print(
            f"[{kind} {trials} trials] {facts['versions']} versions, {facts['events']} events, "
            f"{facts['findings']} open findings; {how}; store {backend.size_mb(store):.0f} MB"
        )
        p95s: dict[str, float] = {}
        with ui_client(store) as client:
            print(f"  {'request':<44} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>8} {'n':>3}")
            for label, path, params in cases(facts, client, trials):
                cpu = time.process_time()
                timings = sorted(measure(client, path, params, args.repeat, args.budget))
                cpu_ms = (time.process_time() - cpu) * 1000 / (len(timings) + 1)
                p95 = timings[max(0, math.ceil(0.95 * len(timings)) - 1)]
                p95s[label] = p95
                flag = "" if p95 <= TARGET_MS else "  > target"
                print(
                    f"  {label:<44} {statistics.median(timings):>8.1f} {p95:>8.1f} "
                    f"{cpu_ms:>8.1f} {len(timings):>3}{flag}"
                )
        store.dispose()
        worst = max(p95s.values())
        print(f"  worst p95 {worst:.1f} ms ({worst / TARGET_MS:.2f}x the {TARGET_MS:.0f} ms target)")
        return p95s
    finally:
        backend.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--baseline-trials", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--budget", type=float, default=8.0, help="seconds per request kind, at least 3 requests"
    )
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the stores (SQLite files and facts here, PostgreSQL databases) and reuse them",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-uiscale-"))
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow"))
    if not any(Path(entry, "trialwatch_ui").is_dir() for entry in sys.path):  # PYTHONPATH may name another
        sys.path.insert(0, str(REPO / "plugins"))
    ratio = args.events / max(1, args.trials)
    for kind in args.backends.split(","):
        kind = kind.strip()
        base = run_backend(kind, args.baseline_trials, round(args.baseline_trials * ratio), args, workdir)
        full = run_backend(kind, args.trials, args.events, args, workdir)
        print(f"[{kind}] p95 at {args.trials} trials over p95 at {args.baseline_trials} (same request):")
        for label, p95 in full.items():
            if label in base:
                print(f"  {label:<44} {p95 / max(base[label], 0.001):>6.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
