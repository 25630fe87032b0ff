"""Real registry samples for the findings tests, and small edits to them."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from trialwatch import records

DATA = Path(records.__file__).resolve().parent / "replay" / "data"
SAMPLES = DATA / "samples"
STUDIES = DATA / "studies"


def load(name: str) -> dict[str, Any]:
    """A fresh copy of a sample study by file name; a /studies page gives its first study."""
    path = SAMPLES / name if (SAMPLES / name).exists() else STUDIES / name
    data = json.loads(path.read_text(encoding="utf-8"))
    return copy.deepcopy(data["studies"][0] if "studies" in data else data)


def status(study: dict[str, Any]) -> dict[str, Any]:
    return study["protocolSection"]["statusModule"]


def design(study: dict[str, Any]) -> dict[str, Any]:
    return study["protocolSection"]["designModule"]


def oversight(study: dict[str, Any]) -> dict[str, Any]:
    return study["protocolSection"].setdefault("oversightModule", {})


def codes(findings: list[Any]) -> list[str]:
    return [f.code for f in findings]


# As-of dates spread over two decades, to evaluate a record on
AS_OF = [date(2008, 1, 1) + timedelta(days=397 * n + 13 * n * n) for n in range(14)]


def sample_studies() -> list[dict[str, Any]]:
    studies = []
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        studies += data.get("studies", [data]) if isinstance(data, dict) else []
    return [s for s in studies if isinstance(s, dict) and "protocolSection" in s]


def dated_states() -> list[dict[str, Any]]:
    """Real records moved into the states whose findings depend on the date (recruiting past its
    primary completion, not started, an actual date ahead)."""
    recruiting = load("study_NCT03418623.json")
    status(recruiting).update(overallStatus="RECRUITING", statusVerifiedDate="2023-02")
    status(recruiting)["primaryCompletionDateStruct"] = {"date": "2024-01-31", "type": "ESTIMATED"}
    status(recruiting)["completionDateStruct"] = {"date": "2024-12", "type": "ESTIMATED"}
    not_started = load("study_NCT03418623.json")
    status(not_started).update(overallStatus="NOT_YET_RECRUITING", statusVerifiedDate="2024-05-31")
    status(not_started)["startDateStruct"] = {"date": "2024-02", "type": "ESTIMATED"}
    ahead = load("study_NCT03418623.json")
    status(ahead)["completionDateStruct"] = {"date": "2025-06-15", "type": "ACTUAL"}
    return [recruiting, not_started, ahead]
