"""Cost of diffing records far larger than any real one (10 MB and 50 MB), stage by stage.

Each record is a real sample whose eligibility criteria and detailed description are padded to
half the size each; the new version has one stretch edited in the middle of both texts ("edit") or
both texts rewritten ("rewrite"). Prints seconds per stage and the peak memory of the process;
asserts nothing about time. Each size runs in its own process so peak memory is its own.
Run: ``.venv/bin/python benchmarks/bench_huge_record.py [--sizes 10 50]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from trialwatch import records, safejson
from trialwatch.diff import diff_canonical

SAMPLE = Path(records.__file__).resolve().parent / "replay" / "data" / "samples" / "study_NCT00184067.json"
WORDS = "Participants with measurable disease and adequate organ function may enrol. "


def text(chars: int, seed: str) -> str:
    sentence = f"{seed} {WORDS}"
    return (sentence * (chars // len(sentence) + 1))[:chars]


def versions(megabytes: float, kind: str) -> tuple[str, str]:
    """(old, new) record texts of about ``megabytes`` MB each."""
    half = int(megabytes * 1_000_000 / 2)
    study = json.loads(SAMPLE.read_text(encoding="utf-8"))
    old = copy.deepcopy(study)
    new = copy.deepcopy(study)
    for module, key in (
        ("eligibilityModule", "eligibilityCriteria"),
        ("descriptionModule", "detailedDescription"),
    ):
        before = text(half, "Item")
        if kind == "edit":
            middle = len(before) // 2
            after = before[:middle] + "Amended: " * 50 + before[middle + 200 :]
        else:
            after = text(half, "Point")
        old["protocolSection"][module][key] = before
        new["protocolSection"][module][key] = after
    return json.dumps(old), json.dumps(new)


def measure(megabytes: float, kind: str) -> dict[str, Any]:
    old_text, new_text = versions(megabytes, kind)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    old, new = safejson.loads(old_text), safejson.loads(new_text)
    timings["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    old_canonical, new_canonical = records.canonical_form(old), records.canonical_form(new)
    timings["canonical"] = time.perf_counter() - start
    start = time.perf_counter()
    old_hash, new_hash = records.hash_canonical(old_canonical), records.hash_canonical(new_canonical)
    timings["hash"] = time.perf_counter() - start
    start = time.perf_counter()
    events = diff_canonical(
        old_canonical,
        new_canonical,
        nct_id=records.nct_id_of(new),
        thresholds=None,
        old_hash=old_hash,
        new_hash=new_hash,
    )
    timings["diff"] = time.perf_counter() - start
    start = time.perf_counter()
    output = safejson.dumps([event.to_dict() for event in events], ensure_ascii=False)
    timings["output"] = time.perf_counter() - start
    return {
        "size_mb": round(len(new_text) / 1_000_000, 1),
        "kind": kind,
        **{name: round(seconds, 2) for name, seconds in timings.items()},
        "total": round(sum(timings.values()), 2),
        "events": len(events),
        "output_bytes": len(output),
        "details": [event.detail for event in events],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[10, 50], help="record sizes in MB")
    parser.add_argument("--one", nargs=2, metavar=("MB", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(float(args.one[0]), args.one[1])))
        return
    print(
        f"{'MB':>5} {'kind':<8} {'parse':>6} {'canon':>6} {'hash':>6} {'diff':>6} {'out':>6} {'total':>6} {'peak MB':>8}"
    )
    for size in args.sizes:
        for kind in ("edit", "rewrite"):
            result = subprocess.run(
                [sys.executable, __file__, "--one", str(size), kind],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(result.stdout)
            print(
                f"{row['size_mb']:>5} {kind:<8} {row['parse']:>6} {row['canonical']:>6} {row['hash']:>6} "
                f"{row['diff']:>6} {row['output']:>6} {row['total']:>6} {row['peak_rss_mb']:>8}"
            )
            for detail in row["details"]:
                print(f"      {detail}")


if __name__ == "__main__":
    main()
