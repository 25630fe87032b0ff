"""The registry-wide daily sync, measured: day 1 ingest and day 2 with 1% changed, SQLite and PostgreSQL.

A synthetic API v2 registry (real HTTP on 127.0.0.1, in its own process so its CPU is counted apart)
serves N studies cloned from the real sample records (new ids, varied titles, counts and dates). It
answers ``/version``, ``/studies`` (paging with pageToken, ``filter.ids``, ``filter.advanced`` with
``AREA[LastUpdatePostDate]RANGE[from,to]``, ``fields=NCTId``) and ``/studies/{id}``, and counts requests
and bytes. The watchlist is the whole registry (a query with ``all: true``): its listing sends no
``query.*`` parameter, and the server answers 400 to one, so a listing that sends one fails the run.
Day 2 changes 1% of the studies (status, enrollment, last update posted) and bumps ``versionHolder``
on all of them, as the registry's daily build does.

The sync is the real one: ``pipeline.run_sync`` with the real ``CtgovClient``, history off: day 1 is
the first sync (a full reconciliation), day 2 an incremental one (the query with the LastUpdatePostDate
window, ``fields=NCTId``, then only the ids it returned). In the same
run a naive baseline (fetch everything, DeepDiff every pair, store whole JSON) runs over the first
``--naive-n`` studies, and the day-2 CPU per study of both is printed as a ratio.

    .venv/bin/python benchmarks/bench_sync.py [--n 10000] [--backends sqlite,postgres]
        [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres] [--naive-n 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import re
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "include"), str(REPO / "plugins")]
SAMPLES = REPO / "include/trialwatch/replay/data/samples"
REGISTRY_SIZE = 606_000
FIRST_ID = 50_000_000
DAYS = {1: "2026-11-27T09:00:00", 2: "2026-11-28T09:00:00"}
DAY2_POSTED = "2026-11-28"
STATUSES = [
    "RECRUITING",
    "ACTIVE_NOT_RECRUITING",
    "COMPLETED",
    "NOT_YET_RECRUITING",
    "ENROLLING_BY_INVITATION",
]
RANGE_RE = re.compile(r"AREA\[LastUpdatePostDate\]RANGE\[([^,\]]+),\s*([^\]]+)\]")


# ---------------------------------------------------------------- the synthetic registry


def templates() -> list[bytes]:
    """The real single-study samples, one of each trial, serialised compactly."""
    seen: set[str] = set()
    out = []
    for path in sorted(SAMPLES.glob("study_NCT*.json")):
        study = json.loads(path.read_text(encoding="utf-8"))
        nct_id = study["protocolSection"]["identificationModule"]["nctId"]
        if nct_id not in seen:
            seen.add(nct_id)
            out.append(json.dumps(study, separators=(",", ":"), ensure_ascii=False).encode())
    return out


def nct(i: int) -> str:
    return f"NCT{FIRST_ID + i:08d}"


def make_study(i: int, day: int, bases: list[bytes]) -> tuple[dict[str, Any], str]:
    """Study ``i`` as served on ``day`` and its LastUpdatePostDate."""
    study = json.loads(bases[i % len(bases)])
    protocol = study["protocolSection"]
    ident = protocol["identificationModule"]
    ident["nctId"] = nct(i)
    ident["briefTitle"] = f"{ident.get('briefTitle', 'Study')} (site group {i})"
    ident.get("orgStudyIdInfo", {})["id"] = f"SYN-{i}"
    status = protocol.setdefault("statusModule", {})
    posted = f"20{20 + i % 6}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    status["overallStatus"] = STATUSES[i % 3]
    design = protocol.setdefault("designModule", {})
    design["enrollmentInfo"] = {"count": 20 + (i * 7) % 900, "type": "ESTIMATED"}
    if day == 2 and i % 100 == 0:  # 1% changed in day 2's build
        status["overallStatus"] = STATUSES[3 + i % 2]
        design["enrollmentInfo"] = {"count": 25 + (i * 7) % 900, "type": "ACTUAL"}
        posted = DAY2_POSTED
    status["lastUpdatePostDateStruct"] = {"date": posted, "type": "ACTUAL"}
    misc = study.setdefault("derivedSection", {}).setdefault("miscInfoModule", {})
    misc["versionHolder"] = DAYS[day][:10]  # bumped on every record by every build
    return study, posted


class Registry:
    """Day ``day`` of ``n`` synthetic studies, pre-serialised, with counters."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.bases = templates()
        self.requests = 0
        self.bytes = 0
        self.set_day(1)

    def set_day(self, day: int) -> None:
        self.day = day
        self.bodies: list[bytes] = []
        self.posted: list[str] = []
        for i in range(self.n):
            study, posted = make_study(i, day, self.bases)
            # As the registry sends it: compact, UTF-8 as it is (no \u escapes).
            self.bodies.append(json.dumps(study, separators=(",", ":"), ensure_ascii=False).encode())
            self.posted.append(posted)
        self.id_only = [
            b'{"protocolSection":{"identificationModule":{"nctId":"%s"}}}' % nct(i).encode()
            for i in range(self.n)
        ]

    def index(self, raw: str) -> int | None:
        raw = raw.strip().upper()
        if not re.fullmatch(r"NCT\d{8}", raw):
            return None
        i = int(raw[3:]) - FIRST_ID
        return i if 0 <= i < self.n else None

    def search(self, params: dict[str, str]) -> bytes:
        searches = sorted(name for name in params if name.startswith("query."))
        if searches:  # the registry-wide watchlist sends none
            raise ValueError(f"unexpected search parameter(s) {', '.join(searches)}")
        if params.get("filter.ids"):
            found = (self.index(raw) for raw in re.split(r"[,|]", params["filter.ids"]))
            matching = sorted({i for i in found if i is not None})
        else:
            matching = list(range(self.n))
        if params.get("filter.advanced"):
            match = RANGE_RE.fullmatch(params["filter.advanced"].strip())
            if not match:
                raise ValueError(f"unsupported filter.advanced {params['filter.advanced']!r}")
            low, high = match.groups()
            low = "" if low == "MIN" else low
            high = "9999" if high == "MAX" else high
            matching = [i for i in matching if low <= self.posted[i] <= high]
        size = max(1, min(int(params.get("pageSize", "10")), 1000))
        offset = int(params["pageToken"][1:]) if params.get("pageToken") else 0
        page = matching[offset : offset + size]
        source = self.id_only if params.get("fields") == "NCTId" else self.bodies
        parts = [b'{"studies":[', b",".join(source[i] for i in page), b"]"]
        if params.get("countTotal") == "true":
            parts.append(b',"totalCount":%d' % len(matching))
        if offset + size < len(matching):
            parts.append(b',"nextPageToken":"t%d"' % (offset + size))
        parts.append(b"}")
        return b"".join(parts)


def serve(n: int, port_out: Any) -> None:
    registry = Registry(n)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def reply(self, status: int, body: bytes, count: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if count:
                registry.requests += 1
                registry.bytes += len(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            path = unquote(url.path)
            if path == "/_bench/stats":
                stats = {"requests": registry.requests, "bytes": registry.bytes, "cpu": time.process_time()}
                return self.reply(200, json.dumps(stats).encode(), count=False)
            if path == "/_bench/day":
                registry.set_day(int(params["day"]))
                registry.requests = registry.bytes = 0
                return self.reply(200, b"{}", count=False)
            if path == "/api/v2/version":
                body = {"apiVersion": "2.0.5", "dataTimestamp": DAYS[registry.day]}
                return self.reply(200, json.dumps(body).encode())
            if path == "/api/v2/studies":
                try:
                    return self.reply(200, registry.search(params))
                except ValueError as exc:
                    return self.reply(400, str(exc).encode())
            if path.startswith("/api/v2/studies/"):
                i = registry.index(path.rsplit("/", 1)[1])
                if i is None:
                    return self.reply(404, b'{"message":"not found"}')
                return self.reply(200, registry.bodies[i])
            return self.reply(404, b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.send(server.server_address[1])
    server.serve_forever()


class RegistryProcess:
    def __init__(self, n: int) -> None:
        import requests

        ours, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=serve, args=(n, theirs), daemon=True
        )
        self.process.start()
        port = ours.recv()
        self.root = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root}/api/v2"
        self.http = requests.Session()

    def set_day(self, day: int) -> None:
        self.http.get(f"{self.root}/_bench/day", params={"day": day}, timeout=600).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self.http.get(f"{self.root}/_bench/stats", timeout=60).json()

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()


# ---------------------------------------------------------------- stores


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Backend:
    """A throwaway store: a SQLite file, or a PostgreSQL database created and dropped here."""

    def __init__(self, kind: str, pg_url: str, workdir: Path) -> None:
        from sqlalchemy import create_engine, make_url, text

        self.kind = kind
        self._admin = None
        if kind == "sqlite":
            self.path = workdir / f"bench-{uuid.uuid4().hex[:8]}.sqlite"
            self.url = f"sqlite:///{self.path}"
        else:
            name = f"trialwatch_bench_{uuid.uuid4().hex[:8]}"
            self._admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
            with self._admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            self.name = name
            self.url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)

    def version_bytes(self, store: Any) -> tuple[int, float, float]:
        """(versions, mean stored bytes of the record column per version, whole store bytes per version)."""
        from sqlalchemy import text

        with store.engine.connect() as connection:
            if self.kind == "sqlite":
                versions, column = connection.execute(
                    text(
                        "SELECT count(*), coalesce(sum(length(CAST(record AS BLOB))), 0) FROM study_versions"
                    )
                ).one()
                connection.commit()
                total = self.path.stat().st_size
            else:
                versions, column = connection.execute(
                    text("SELECT count(*), coalesce(sum(pg_column_size(record)), 0) FROM study_versions")
                ).one()
                total = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        return versions, column / max(versions, 1), total / max(versions, 1)

    def drop(self) -> None:
        from sqlalchemy import text

        if self._admin is not None:
            with self._admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()


# ---------------------------------------------------------------- the real sync and the naive one


def watchlist() -> Any:
    from trialwatch.watchlists import Watchlist, registry_wide_query

    return Watchlist(
        name="registry",
        path=Path("registry.yaml"),
        title="The whole registry",
        queries=(registry_wide_query(),),  # what `all: true` loads as
    )


def real_day(store: Any, server: RegistryProcess, n: int, day: int) -> dict[str, Any]:
    from trialwatch import pipeline
    from trialwatch.registry.client import CtgovClient

    server.set_day(day)
    before = server.stats()
    cpu = time.process_time()
    wall = time.perf_counter()
    with CtgovClient(server.base_url, min_interval=0.0, max_retries=0) as client:
        summary = pipeline.run_sync(store, client, [watchlist()], use_history=False)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    after = server.stats()
    # Day 1 fetches everything; day 2 only the 1% whose update was posted in day 2's build.
    expected = n if day == 1 else len(range(0, n, 100))
    if summary.status != "ok" or summary.fetched != expected:
        raise SystemExit(
            f"day {day} ({summary.scope}): sync ended {summary.status}, fetched {summary.fetched} "
            f"of {expected} expected"
        )
    return {
        "scope": summary.scope,
        "fetched": summary.fetched,
        "cpu": cpu,
        "wall": wall,
        "server_cpu": after["cpu"] - before["cpu"],
        "requests": after["requests"],
        "bytes": after["bytes"],
        "versions": summary.versions,
        "events": summary.events,
        "rss": peak_rss_mb(),
    }


GATE_SAMPLE = 3_000  # unchanged day-2 records put through the batch gate
GATE_BATCH = 300  # as the sync's filter.ids batches


def gate_day(store: Any, server: RegistryProcess, n: int) -> dict[str, Any]:
    """CPU per unchanged record in the batch gate: the stored-state query, ``pipeline.gate_batch`` and
    the one statement that marks them, on day-2 records the incremental pass did not need to fetch
    (their ``versionHolder`` moved, nothing else). The fetch is not counted."""
    from trialwatch import pipeline
    from trialwatch.registry.client import CtgovClient
    from trialwatch.store import repository as repo

    ids = [nct(i) for i in range(min(n, GATE_SAMPLE)) if i % 100]  # every 100th changed on day 2
    cpu = 0.0
    unchanged = 0
    with CtgovClient(server.base_url, min_interval=0.0, max_retries=0) as client:
        for start in range(0, len(ids), GATE_BATCH):
            batch = client.fetch_studies(ids[start : start + GATE_BATCH]).studies
            started = time.process_time()
            with store.session() as session:
                state = repo.gate_state(session, batch)
                gate = pipeline.gate_batch(batch, state, use_history=False)
                repo.mark_unchanged(session, gate.unchanged)
            cpu += time.process_time() - started
            unchanged += len(gate.unchanged)
    if unchanged != len(ids):
        raise SystemExit(f"batch gate: {unchanged} of {len(ids)} day-2 records found unchanged")
    return {"records": len(ids), "per_record": cpu / len(ids)}


def naive_day(db: sqlite3.Connection, server: RegistryProcess, n: int, day: int) -> dict[str, Any]:
    """Fetch every record, DeepDiff it against the stored one, store the whole JSON again."""
    import requests
    from deepdiff import DeepDiff

    server.set_day(day)
    cpu = time.process_time()
    http = requests.Session()
    changed = 0
    for start in range(0, n, 100):
        ids = "|".join(nct(i) for i in range(start, min(n, start + 100)))
        answer = http.get(
            f"{server.base_url}/studies", params={"filter.ids": ids, "pageSize": 1000}, timeout=60
        )
        answer.raise_for_status()
        for study in answer.json()["studies"]:
            nct_id = study["protocolSection"]["identificationModule"]["nctId"]
            row = db.execute("SELECT raw_json FROM versions WHERE nct_id = ?", (nct_id,)).fetchone()
            if row is not None and DeepDiff(json.loads(row[0]), study):
                changed += 1
            db.execute("INSERT OR REPLACE INTO versions VALUES (?, ?)", (nct_id, json.dumps(study)))
        db.commit()
    return {"cpu": time.process_time() - cpu, "changed": changed}


def run_naive(server: RegistryProcess, n: int, workdir: Path) -> dict[str, Any]:
    db = sqlite3.connect(workdir / "naive.sqlite")
    db.execute("CREATE TABLE versions (nct_id TEXT PRIMARY KEY, raw_json TEXT)")
    naive_day(db, server, n, 1)
    day2 = naive_day(db, server, n, 2)
    db.close()
    return day2


# ---------------------------------------------------------------- report


def mb(value: float) -> str:
    return f"{value / 1e6:,.1f} MB"


def report(
    kind: str,
    n: int,
    day1: dict[str, Any],
    day2: dict[str, Any],
    sizes: tuple[int, float, float],
    gate: dict[str, Any],
) -> None:
    print(f"\n== {kind}, N = {n:,}, history off")
    for label, day in (("day 1 (ingest)", day1), ("day 2 (1% changed)", day2)):
        print(
            f"  {label:20s} {day['scope']} sync, {day['fetched']:,} studies fetched, "
            f"sync CPU {day['cpu']:7.2f} s  = {n / day['cpu']:8,.0f} watched studies/CPU-s"
            f"  (server CPU {day['server_cpu']:.2f} s, wall {day['wall']:.1f} s)"
        )
        print(
            f"  {'':20s} {day['requests']:,} requests, {mb(day['bytes'])} fetched, "
            f"{day['versions']:,} versions, {day['events']:,} events, peak RSS {day['rss']:.0f} MB"
        )
    scaled = day2["cpu"] / n * REGISTRY_SIZE
    print(f"  day 2 sync CPU scaled to {REGISTRY_SIZE:,} studies: {scaled / 60:.1f} min")
    print(
        f"  day 2 against day 1: {100 * day2['requests'] / max(day1['requests'], 1):.1f}% of the requests, "
        f"{100 * day2['bytes'] / max(day1['bytes'], 1):.2f}% of the bytes"
    )
    print(
        f"  an unchanged record in the batch gate: {gate['per_record'] * 1e6:.1f} us of CPU "
        f"({gate['records']:,} day-2 records, batches of {GATE_BATCH})"
    )
    versions, column, total = sizes
    print(
        f"  bytes per stored version ({versions:,} versions): {column:,.0f} B record column, "
        f"{total:,.0f} B whole store"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="studies in the synthetic registry")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--pg-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--naive-n", type=int, default=1_000, help="studies for the naive baseline (0: skip)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    server = RegistryProcess(args.n)
    day2_per_study: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            from trialwatch.store import Store

            for kind in [part.strip() for part in args.backends.split(",") if part.strip()]:
                backend = Backend(kind, args.pg_url, workdir)
                store = Store(backend.url)
                try:
                    store.upgrade()
                    day1 = real_day(store, server, args.n, 1)
                    day2 = real_day(store, server, args.n, 2)
                    gate = gate_day(store, server, args.n)
                    report(kind, args.n, day1, day2, backend.version_bytes(store), gate)
                    day2_per_study.append(day2["cpu"] / args.n)
                finally:
                    store.dispose()
                    backend.drop()
            if args.naive_n > 0:
                naive_n = min(args.naive_n, args.n)
                naive = run_naive(server, naive_n, workdir)
                per_study = naive["cpu"] / naive_n
                print(
                    f"\n== naive baseline over {naive_n:,} studies (fetch all, DeepDiff every pair, whole JSON)"
                )
                print(
                    f"  day 2 CPU {naive['cpu']:.2f} s = {per_study * 1e3:.2f} ms per study "
                    f"({naive['changed']} pairs differed: versionHolder moves on all)"
                )
                for kind, real in zip(args.backends.split(","), day2_per_study, strict=False):
                    print(
                        f"  {kind.strip()}: the real day-2 pass is {per_study / real:.1f}x the naive one's speed"
                    )
    finally:
        server.stop()
    print(f"\npeak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
