"""A small replay registry for finding lifecycles: real records (two rebuilt seed versions and one real
sample) served on dates chosen so findings open on day 2 and one set resolves on day 3.

- NCT03418623 (real sample, primary completion 2020-03-13 ACTUAL, no results): results are due by
  2021-03-13, so not overdue on day 1 (2021-03-01), overdue from day 2 on.
- NCT04327037 (rebuilt seed): v0 (2020-03-31) is RECRUITING with a primary completion that passes
  before day 2; v1 (2022-01-18) is what day 2 serves, still RECRUITING past completion and verified
  more than two years before; v2 (2024-11-05) is ACTIVE_NOT_RECRUITING with new dates, served from
  day 3: both findings resolve.
"""

from __future__ import annotations

import json
from pathlib import Path

from trialwatch.replay.server import DEFAULT_DATA_DIR

DAYS = {1: "2021-03-01", 2: "2024-10-01", 3: "2024-12-01", 4: "2024-12-02"}


def write_timeline(directory: Path) -> Path:
    studies = {
        "NCT03418623": [("2020-10-08", "samples/study_NCT03418623.json")],
        "NCT04327037": [
            ("2020-03-31", "studies/NCT04327037/v0.json"),
            ("2022-01-18", "studies/NCT04327037/v1.json"),
            ("2024-11-05", "studies/NCT04327037/v2.json"),
        ],
    }
    timeline = {
        "apiVersion": "2.0.5",
        "days": [
            {"day": day, "date": when, "dataTimestamp": f"{when}T09:00:00"} for day, when in DAYS.items()
        ],
        "studies": {
            nct_id: {
                "source": "real",
                "versions": [
                    {
                        "version": number,
                        "date": when,
                        "moduleLabels": [],
                        "file": str(DEFAULT_DATA_DIR / file),
                    }
                    for number, (when, file) in enumerate(versions)
                ],
            }
            for nct_id, versions in studies.items()
        },
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "timeline.json").write_text(json.dumps(timeline), encoding="utf-8")
    return directory
