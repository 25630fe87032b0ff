"""CPU cost of one changed record, over many varied changed pairs of 15–25 KB real records.

The work timed per pair is what the pipeline does for a record whose content changed: the
canonical form of the fetched record and its content hash, the canonical form of the stored
previous record (stored raw), and ``diff_canonical``. Pairs are built from the real samples (whole
records in the size band, larger ones cut to it by dropping results and trailing list items) with
varied edits: status, enrollment, dates, a site added or removed, an outcome edited, eligibility
edited, and nothing but ``versionHolder``. Each pair starts with cold text caches, so no pair
profits from strings an earlier pair left behind.

Prints the median and 90th percentile of ``time.process_time`` per pair, and in the same run plain
DeepDiff(ignore_order) of each raw pair as a baseline ratio; asserts nothing about time.
Run: ``.venv/bin/python benchmarks/bench_changed.py [--pairs 140] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff
from trialwatch import records
from trialwatch.diff import diff_canonical

SAMPLES = Path(records.__file__).resolve().parent / "replay" / "data" / "samples"
TARGET_MS = 5.0
BAND_KB = (15.0, 25.0)
# Lists cut from the end, longest first, to bring a large real record into the band (results too,
# so some records keep part of their results section).
TRIM_PATHS = (
    ("protocolSection", "contactsLocationsModule", "locations"),
    ("protocolSection", "outcomesModule", "secondaryOutcomes"),
    ("protocolSection", "outcomesModule", "otherOutcomes"),
    ("protocolSection", "referencesModule", "references"),
    ("derivedSection", "conditionBrowseModule", "browseLeaves"),
    ("derivedSection", "interventionBrowseModule", "browseLeaves"),
    ("resultsSection", "outcomeMeasuresModule", "outcomeMeasures"),
    ("resultsSection", "adverseEventsModule", "seriousEvents"),
    ("resultsSection", "adverseEventsModule", "otherEvents"),
    ("resultsSection", "baselineCharacteristicsModule", "measures"),
    ("documentSection", "largeDocumentModule", "largeDocs"),
)
STATUSES = ("RECRUITING", "ACTIVE_NOT_RECRUITING", "SUSPENDED", "TERMINATED", "COMPLETED", "WITHDRAWN")
Study = dict[str, Any]


def compact_kb(study: Study) -> float:
    return len(json.dumps(study, separators=(",", ":"), ensure_ascii=False).encode()) / 1024


def real_studies() -> list[Study]:
    """Every study in the samples, once per NCT id (the first file that has it)."""
    seen: dict[str, Study] = {}
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for study in data.get("studies", []) if "studies" in data else [data]:
            if isinstance(study, dict) and "protocolSection" in study:
                seen.setdefault(records.nct_id_of(study), study)
    return list(seen.values())


def _list_at(study: Study, path: tuple[str, ...]) -> list[Any]:
    node: Any = study
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, list) else []


def in_band(study: Study) -> Study | None:
    """The study whole if it is 15–25 KB, else cut into the band, else None (too small)."""
    low, high = BAND_KB
    cut = copy.deepcopy(study)
    while compact_kb(cut) > high:
        longest = max((_list_at(cut, path) for path in TRIM_PATHS), key=lambda items: len(json.dumps(items)))
        if len(longest) <= 1:
            return None
        del longest[-1]
    return cut if compact_kb(cut) >= low else None


def band_records() -> list[Study]:
    """Each real record in the band: whole or cut, and once more without its results section."""
    found = []
    for study in real_studies():
        variants = [study]
        if "resultsSection" in study:
            variants.append({key: value for key, value in study.items() if key != "resultsSection"})
        for variant in variants:
            cut = in_band(variant)
            if cut is not None and all(cut != other for other in found):
                found.append(cut)
    return found


# --- edits: each changes one thing a sponsor would -----------------------------------------------------


def _protocol(study: Study) -> dict[str, Any]:
    return study["protocolSection"]


def edit_status(study: Study, rng: random.Random) -> None:
    status = _protocol(study).setdefault("statusModule", {})
    status["overallStatus"] = rng.choice([s for s in STATUSES if s != status.get("overallStatus")])
    if status["overallStatus"] in ("SUSPENDED", "TERMINATED", "WITHDRAWN"):
        status["whyStopped"] = rng.choice(("Funding withdrawn", "Sponsor decision", "Slow accrual"))


def edit_enrollment(study: Study, rng: random.Random) -> None:
    info = _protocol(study).setdefault("designModule", {}).setdefault("enrollmentInfo", {})
    count = info.get("count") or 100
    info["count"] = max(1, int(count * rng.choice((0.5, 0.8, 1.05, 1.25, 2.0))))
    if rng.random() < 0.5:
        info["type"] = "ACTUAL" if info.get("type") == "ESTIMATED" else "ESTIMATED"


def edit_dates(study: Study, rng: random.Random) -> None:
    status = _protocol(study).setdefault("statusModule", {})
    for key in rng.sample(("primaryCompletionDateStruct", "completionDateStruct", "startDateStruct"), 2):
        struct = status.setdefault(key, {})
        year = 2020 + rng.randrange(12)
        struct["date"] = f"{year}-{rng.randrange(1, 13):02d}" + (
            f"-{rng.randrange(1, 29):02d}" * rng.randrange(2)
        )


def edit_site(study: Study, rng: random.Random) -> None:
    module = _protocol(study).setdefault("contactsLocationsModule", {})
    sites = module.setdefault("locations", [])
    if sites and rng.random() < 0.5:
        sites.pop(rng.randrange(len(sites)))
        return
    site = copy.deepcopy(rng.choice(sites)) if sites else {"city": "Lyon", "country": "France"}
    site["facility"] = f"Centre Hospitalier {rng.randrange(1000)}"
    site["status"] = "RECRUITING"
    sites.insert(rng.randrange(len(sites) + 1), site)


def edit_outcome(study: Study, rng: random.Random) -> None:
    module = _protocol(study).setdefault("outcomesModule", {})
    lists = [module[key] for key in ("primaryOutcomes", "secondaryOutcomes") if module.get(key)]
    if not lists:
        module["primaryOutcomes"] = [{"measure": "Overall survival", "timeFrame": "5 years"}]
        return
    outcome = rng.choice(rng.choice(lists))
    if rng.random() < 0.5:
        outcome["timeFrame"] = f"{rng.randrange(1, 60)} months"
    else:
        outcome["description"] = (outcome.get("description") or "") + " Assessed by blinded central review."


def edit_eligibility(study: Study, rng: random.Random) -> None:
    module = _protocol(study).setdefault("eligibilityModule", {})
    lines = (module.get("eligibilityCriteria") or "").splitlines()
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        module["eligibilityCriteria"] = "Inclusion Criteria:\n\n* Adults"
        return
    index = rng.choice(filled)
    if rng.random() < 0.5:
        lines[index] += " (amended)"
    else:
        lines.insert(index + 1, "* Able to give written informed consent")
    module["eligibilityCriteria"] = "\n".join(lines)


def edit_version_holder(study: Study, rng: random.Random) -> None:
    derived = study.setdefault("derivedSection", {}).setdefault("miscInfoModule", {})
    derived["versionHolder"] = f"2031-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


EDITS = {
    "status": edit_status,
    "enrollment": edit_enrollment,
    "dates": edit_dates,
    "site": edit_site,
    "outcome": edit_outcome,
    "eligibility": edit_eligibility,
    "versionHolder": edit_version_holder,
}


def changed_pairs(count: int, seed: int = 20251) -> list[tuple[str, Study, Study]]:
    """(edit names, old, new): every third pair carries a second edit; old and new share no objects."""
    bases = band_records()
    rng = random.Random(seed)
    names = list(EDITS)
    pairs = []
    for index in range(count):
        base = bases[index % len(bases)]
        chosen = [names[(index // len(bases) + index) % len(names)]]
        if index % 3 == 2:
            chosen.append(rng.choice([name for name in names if name not in chosen]))
        new = json.loads(json.dumps(base))
        for name in chosen:
            EDITS[name](new, rng)
        if "versionHolder" not in chosen:
            edit_version_holder(new, rng)  # every fetch of a changed record carries a new one
        pairs.append(("+".join(chosen), json.loads(json.dumps(base)), new))
    return pairs


# --- the timed work -----------------------------------------------------------------------------------


def changed_record(old_raw: Study, old_hash: str, new_raw: Study) -> int:
    """What the pipeline does for a changed record; the number of events."""
    new_canonical = records.canonical_form(new_raw)
    new_hash = records.hash_canonical(new_canonical)
    old_canonical = records.canonical_form(old_raw)
    events = diff_canonical(
        old_canonical,
        new_canonical,
        nct_id=records.nct_id_of(new_raw),
        thresholds=None,
        old_hash=old_hash,
        new_hash=new_hash,
    )
    return len(events)


def _clear_caches() -> None:
    clear = getattr(records, "clear_caches", None)
    if clear is not None:
        clear()


def cpu_ms(action: Any, *args: Any) -> float:
    _clear_caches()
    start = time.process_time()
    action(*args)
    return (time.process_time() - start) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=140)
    parser.add_argument("--rounds", type=int, default=3, help="timings per pair; its median counts")
    parser.add_argument("--baseline-every", type=int, default=2, help="DeepDiff every Nth pair")
    args = parser.parse_args()

    pairs = changed_pairs(args.pairs)
    sizes = [compact_kb(new) for _, _, new in pairs]
    hashes = [records.content_hash(old) for _, old, _ in pairs]
    kinds = Counter(name for name, _, _ in pairs)
    events = [changed_record(old, h, new) for (_, old, new), h in zip(pairs, hashes, strict=True)]
    print(
        f"{len(pairs)} changed pairs from {len({json.dumps(o) for _, o, _ in pairs})} cuts of "
        f"{len({records.nct_id_of(o) for _, o, _ in pairs})} real records, "
        f"{min(sizes):.1f}–{max(sizes):.1f} KB compact JSON (median {statistics.median(sizes):.1f} KB); "
        f"events per pair: median {statistics.median(events):.0f}, max {max(events)}"
    )
    print("edits: " + ", ".join(f"{name} {n}" for name, n in sorted(kinds.items())))

    per_pair = []
    for (_, old, new), old_hash in zip(pairs, hashes, strict=True):
        timings = [cpu_ms(changed_record, old, old_hash, new) for _ in range(args.rounds)]
        per_pair.append(statistics.median(timings))
    sampled = range(0, len(pairs), args.baseline_every)
    baseline = [cpu_ms(lambda o, n: DeepDiff(o, n, ignore_order=True), *pairs[i][1:]) for i in sampled]
    ours_sampled = [per_pair[i] for i in sampled]

    median, p90 = statistics.median(per_pair), percentile(per_pair, 0.9)
    base_median, base_p90 = statistics.median(baseline), percentile(baseline, 0.9)
    print()
    print(f"{'CPU ms per changed pair (time.process_time)':<52} {'median':>8} {'p90':>8} {'max':>8}")
    print(f"{'canonical x2 + hash + diff_canonical':<52} {median:>8.3f} {p90:>8.3f} {max(per_pair):>8.3f}")
    label = f"plain DeepDiff(ignore_order), raw pair ({len(baseline)} pairs)"
    print(f"{label:<52} {base_median:>8.3f} {base_p90:>8.3f} {max(baseline):>8.3f}")
    ratio = statistics.median(b / o for b, o in zip(baseline, ours_sampled, strict=True))
    print(f"DeepDiff / ours, median of per-pair ratios: {ratio:.1f}x")
    verdict = "meets" if median <= TARGET_MS else "MISSES"
    print(f"changed 15–25 KB record: median {median:.3f} ms {verdict} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
