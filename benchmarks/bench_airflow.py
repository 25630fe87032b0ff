"""What Airflow adds to the daily sync: the day-2 pass through `airflow dags test` against a direct call.

The synthetic registry of ``bench_sync.py`` serves N studies; day 1 is ingested once by a direct call
(``pipeline.run_sync``), then the SQLite store is copied twice. Day 2 (1% changed) runs on one copy
through ``pipeline.run_sync`` in this process, and on the other through the real sync DAG with
``airflow dags test trialwatch_sync`` in a child process. Both report CPU time (user + system); the
child's is read with ``os.wait4``, so the registry server's CPU is counted in neither. Airflow's
metadata database is migrated before the clock starts. The figure that matters is the ratio.

    .venv/bin/python benchmarks/bench_airflow.py [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sync  # the synthetic registry and the registry-wide watchlist

REPO = bench_sync.REPO
MAX_RATIO = 1.5


def write_watchlist(folder: Path) -> None:
    """The file bench_sync.watchlist() stands for (same fingerprint, so the DAG's day 2 is incremental)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "registry.yaml").write_text("title: The whole registry\nqueries:\n  - all: true\n")


def airflow_env(workdir: Path, api_url: str, store_url: str, watchlists: Path) -> dict[str, str]:
    from trialwatch import settings

    home = workdir / "airflow"
    env = settings.environment_for_subprocess()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_CTGOV_API": json.dumps(
                {"conn_type": "http", "host": api_url, "extra": {"min_interval": 0}}
            ),
            "TRIALWATCH_HOME": str(workdir),
            "TRIALWATCH_STORE_URL": store_url,
            "TRIALWATCH_WATCHLISTS": str(watchlists),
            "TRIALWATCH_USE_HISTORY": "false",
        }
    )
    return env


def child_cpu(args: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit status) of one child process and the processes it waited for."""
    started = time.perf_counter()
    with log.open("a") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - started, process.returncode


def count_events(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM change_events").fetchone()[0])


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="studies in the synthetic registry")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from trialwatch import pipeline
    from trialwatch.registry.client import CtgovClient
    from trialwatch.store import Store

    airflow = str(Path(sys.executable).parent / "airflow")
    server = bench_sync.RegistryProcess(args.n)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            watchlists = workdir / "watchlists"
            write_watchlist(watchlists)
            day1_db = workdir / "day1.sqlite"
            store = Store(f"sqlite:///{day1_db}")
            store.upgrade()
            started = self_cpu()
            with CtgovClient(server.base_url, min_interval=0.0, max_retries=0) as client:
                first = pipeline.run_sync(store, client, [bench_sync.watchlist()], use_history=False)
            store.dispose()
            print(f"day 1, direct: {first.fetched:,} studies in {self_cpu() - started:.1f} s CPU (setup)")

            server.set_day(2)
            direct_db, airflow_db = workdir / "direct.sqlite", workdir / "airflow.sqlite"
            shutil.copy(day1_db, direct_db)
            shutil.copy(day1_db, airflow_db)

            store = Store(f"sqlite:///{direct_db}")
            before = server.stats()
            started_cpu, started_wall = self_cpu(), time.perf_counter()
            with CtgovClient(server.base_url, min_interval=0.0, max_retries=0) as client:
                direct = pipeline.run_sync(store, client, [bench_sync.watchlist()], use_history=False)
            direct_cpu, direct_wall = self_cpu() - started_cpu, time.perf_counter() - started_wall
            direct_requests = server.stats()["requests"] - before["requests"]
            store.dispose()

            env = airflow_env(workdir, server.base_url, f"sqlite:///{airflow_db}", watchlists)
            log = workdir / "airflow.log"
            migrate_cpu, _, status = child_cpu([airflow, "db", "migrate"], env, log)
            if status != 0:
                raise SystemExit(f"airflow db migrate failed:\n{log.read_text()[-3000:]}")
            before = server.stats()
            dag_cpu, dag_wall, status = child_cpu([airflow, "dags", "test", "trialwatch_sync"], env, log)
            if status != 0:
                raise SystemExit(f"airflow dags test failed:\n{log.read_text()[-3000:]}")
            dag_requests = server.stats()["requests"] - before["requests"]
            # The floor of anything run through the CLI: start Airflow, parse the DAG folder, no task.
            floor_cpu, _, status = child_cpu([airflow, "dags", "list"], env, log)
            if status != 0:
                raise SystemExit(f"airflow dags list failed:\n{log.read_text()[-3000:]}")
            events = {
                name: count_events(path) for name, path in (("direct", direct_db), ("airflow", airflow_db))
            }
    finally:
        server.stop()

    print(f"\n== day 2 (1% changed), N = {args.n:,}, SQLite, history off")
    print(
        f"  direct pipeline.run_sync:        {direct_cpu:7.2f} s CPU, wall {direct_wall:6.1f} s, "
        f"{direct_requests:,} requests, {direct.fetched:,} fetched, {direct.events:,} events"
    )
    print(
        f"  airflow dags test trialwatch_sync: {dag_cpu:7.2f} s CPU, wall {dag_wall:6.1f} s, "
        f"{dag_requests:,} requests   (airflow db migrate before it: {migrate_cpu:.1f} s CPU, not counted)"
    )
    print(f"  change events stored: direct copy {events['direct']:,}, Airflow copy {events['airflow']:,}")
    if events["direct"] != events["airflow"]:
        raise SystemExit("the two day-2 passes stored different events: the comparison is void")
    ratio = dag_cpu / max(direct_cpu, 1e-9)
    print(
        f"  Airflow / direct CPU: {ratio:.2f}x (target at most {MAX_RATIO}x); overhead {dag_cpu - direct_cpu:.1f} s"
    )
    print(
        f"  of the overhead, starting Airflow and parsing the DAGs alone (airflow dags list): {floor_cpu:.1f} s; "
        f"the DAG run's tasks: {dag_cpu - floor_cpu - direct_cpu:.1f} s"
    )


if __name__ == "__main__":
    main()
