"""Where day 1's CPU goes: bench_sync's first sync with CPU time counted per phase of the pipeline.

Runs day 1 of ``bench_sync.py`` (the synthetic registry, the real ``run_sync``, history off) on one
backend and prints, for each phase, its CPU seconds, microseconds per study and share of the sync.
Phases nest (``fetch/depth`` is part of ``fetch``); ``finish`` holds ``findings``; the title index
catches up inside the commits of the others (most in ``write``).

    .venv/bin/python benchmarks/bench_sync_phases.py [--n 4000] [--backend sqlite|postgres]
        [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import collections
import functools
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_sync


def count_cpu(totals: collections.Counter[str], owner: Any, name: str, label: str) -> None:
    """Wrap ``owner.name`` so that its CPU time adds to ``totals[label]``."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def counted(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[label] += time.process_time() - start

    setattr(owner, name, counted)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    from trialwatch import findings, pipeline, safejson
    from trialwatch.registry.client import CtgovClient
    from trialwatch.registry.served import ServedStudy
    from trialwatch.store import Store, repository, title_index
    from trialwatch.store import findings as stored_findings

    totals: collections.Counter[str] = collections.Counter()
    for owner, name, label in (
        (pipeline, "plan_sync", "plan"),
        (CtgovClient, "fetch_studies", "fetch"),
        (safejson, "_deeper_than", "fetch/depth"),
        (pipeline, "gate_batch", "gate"),
        (ServedStudy, "outline", "gate/new trials' outline"),
        (pipeline, "_write_batch", "write"),
        (repository, "store_batch", "write/store_batch"),
        (pipeline, "finish_sync", "finish"),
        (pipeline, "update_findings", "findings"),
        (stored_findings, "current_records", "findings/current_records"),
        (findings, "evaluate_until", "findings/evaluate_until"),
        (title_index, "catch_up", "title index (at commits)"),
    ):
        count_cpu(totals, owner, name, label)

    with tempfile.TemporaryDirectory() as workdir:
        server = bench_sync.RegistryProcess(args.n)
        backend = bench_sync.Backend(args.backend, args.pg_url, Path(workdir))
        try:
            store = Store(backend.url)
            store.upgrade()
            day1 = bench_sync.real_day(store, server, args.n, 1)
            store.dispose()
        finally:
            server.stop()
            backend.drop()
    cpu = day1["cpu"]
    print(f"{args.backend}, N = {args.n:,}: day 1 sync CPU {cpu:.2f} s = {args.n / cpu:,.0f} studies/CPU-s")
    for label in sorted(totals):
        seconds = totals[label]
        print(
            f"  {label:26s} {seconds:6.2f} s {1e6 * seconds / args.n:6.0f} us/study {100 * seconds / cpu:5.1f}%"
        )


if __name__ == "__main__":
    main()
