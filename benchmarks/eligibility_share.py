"""How much of a real eligibility text changes under typical edits: the basis of the rewrite share.

For every distinct criteria text in the real samples (over 400 characters) it measures the changed
share (``diff._changed_share``) for one criterion added, one reworded, one dropped, the text grown
by two other trials' criteria, and the text replaced by another trial's. Prints the figures; the
catalog's ``ELIGIBILITY_REWRITE_SHARE`` sits between the single edits and the rewrites.
Run: ``.venv/bin/python benchmarks/eligibility_share.py``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from trialwatch import catalog, records
from trialwatch.diff import _changed_share

SAMPLES = Path(records.__file__).resolve().parent / "replay" / "data" / "samples"
EXTRA_ITEM = "* Able to attend all study visits at the site for the whole follow-up period"
EXTRA_WORDS = " within 28 days before randomisation, confirmed by the investigator"


def criteria_texts() -> list[str]:
    texts: dict[str, None] = {}
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for study in data.get("studies", [data]):
            text = study.get("protocolSection", {}).get("eligibilityModule", {}).get("eligibilityCriteria")
            if isinstance(text, str) and len(text) > 400:
                texts[text] = None
    return list(texts)


def main() -> None:
    texts = criteria_texts()
    shares: dict[str, list[float]] = {"one added": [], "one reworded": [], "one dropped": [], "replaced": []}
    grown: list[tuple[int, int, float]] = []
    for index, text in enumerate(texts):
        old = records.parse_criteria(text)
        items = [line for line in text.splitlines() if line.strip() and line.strip()[0] in "*-0123456789"]
        if len(items) < 3:
            continue
        item = items[len(items) // 2]
        other, third = texts[(index + 1) % len(texts)], texts[(index + 2) % len(texts)]
        shares["one added"].append(_changed_share(old, records.parse_criteria(f"{text}\n{EXTRA_ITEM}")))
        shares["one reworded"].append(
            _changed_share(old, records.parse_criteria(text.replace(item, item + EXTRA_WORDS)))
        )
        shares["one dropped"].append(_changed_share(old, records.parse_criteria(text.replace(item, ""))))
        shares["replaced"].append(_changed_share(old, records.parse_criteria(other)))
        bigger = f"{text}\n{other}\n{third}"
        grown.append((len(text), len(bigger), _changed_share(old, records.parse_criteria(bigger))))
    print(
        f"{len(texts)} real criteria texts; rewrite share threshold {catalog.ELIGIBILITY_REWRITE_SHARE:.0%}"
    )
    for name, values in shares.items():
        print(
            f"{name:13} n={len(values):2}  min {min(values):6.1%}  median {statistics.median(values):6.1%}"
            f"  max {max(values):6.1%}"
        )
    print("grown by two other texts (old chars → new chars: changed share):")
    for before, after, share in sorted(grown):
        print(f"  {before:6} → {after:6}: {share:6.1%}")


if __name__ == "__main__":
    main()
