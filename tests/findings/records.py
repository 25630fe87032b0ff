"""Real registry samples for the findings tests, and small edits to them."""

from __future__ import annotations

import copy
import json
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
