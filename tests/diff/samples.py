"""The real registry samples the diff tests mutate, and the mutations themselves."""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

from trialwatch import records
from trialwatch.events import ChangeEvent

SAMPLES = Path(records.__file__).resolve().parent / "replay" / "data" / "samples"


def load(name: str) -> dict[str, Any]:
    """A sample study by file name; a /studies page gives its first study."""
    data = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return data["studies"][0] if "studies" in data else data


def all_studies() -> list[tuple[str, dict[str, Any]]]:
    """(label, study) for every study in every sample file, pages included."""
    found = []
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        studies = data.get("studies", []) if "studies" in data else [data]
        for index, study in enumerate(studies):
            found.append((f"{path.stem}[{index}]", study))
    return found


def facts(events: list[ChangeEvent]) -> list[tuple[Any, ...]]:
    """The part of each event a reader sees, for exact comparison."""
    return [(e.category, e.field, e.old, e.new, e.severity, e.detail) for e in events]


def protocol(study: dict[str, Any]) -> dict[str, Any]:
    return study["protocolSection"]


# --- noise-only mutations -------------------------------------------------------------------------------------


def bump_bookkeeping(study: dict[str, Any]) -> dict[str, Any]:
    """New versionHolder, last-update dates, statusVerifiedDate, MeSH lists and site coordinates."""
    mutated = copy.deepcopy(study)
    derived = mutated.setdefault("derivedSection", {})
    derived.setdefault("miscInfoModule", {})["versionHolder"] = "2031-02-03"
    derived.setdefault("conditionBrowseModule", {})["browseLeaves"] = [
        {"id": "M0", "name": "Something", "asFound": "x", "relevance": "LOW"}
    ]
    status = mutated["protocolSection"].setdefault("statusModule", {})
    status["lastUpdateSubmitDate"] = "2031-02-01"
    status["lastUpdatePostDateStruct"] = {"date": "2031-02-02", "type": "ACTUAL"}
    status["statusVerifiedDate"] = "2031-01"
    for site in mutated["protocolSection"].get("contactsLocationsModule", {}).get("locations", []):
        site["geoPoint"] = {"lat": 1.5, "lon": 2.5}
    return mutated


def shuffle_unordered(study: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    """Every list whose order means nothing, reordered (reversed, then shuffled)."""
    mutated = copy.deepcopy(study)
    rng = random.Random(seed)

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
            if path in records.UNORDERED_LISTS or path.startswith("derivedSection"):
                value.reverse()
                rng.shuffle(value)

    walk(mutated, "")
    return mutated


def reformat_texts(study: dict[str, Any]) -> dict[str, Any]:
    """Markup texts with other whitespace, line endings, bullet and numbering style, emphasis, escapes."""
    mutated = copy.deepcopy(study)

    def restyle(text: str) -> str:
        text = re.sub(r"(?m)^(\s*)\* ", r"\1- ", text)
        text = re.sub(r"(?m)^(\s*)(\d+)\. ", r"\1\2) ", text)
        text = text.replace("\\<", "<").replace("\\>", ">").replace("(", "\\(")
        text = re.sub(r"^(\w+)", r"**\1**", text, count=1)
        text = re.sub(r" (\w+) ", r"  _\1_ ", text, count=1)
        return "  " + text.replace("\n", "  \r\n") + "\n\n"

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {key: walk(item, f"{path}.{key}" if path else key) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, path) for item in value]
        if isinstance(value, str):
            if path in records.MARKUP_PATHS:
                return restyle(value)
            if len(value) > 40:  # plain long texts: whitespace only
                return value.replace(" ", "  ", 1) + " "
        return value

    return walk(mutated, "")
