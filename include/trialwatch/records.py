"""Study records: identity, noise rules and the content hash.

The hash decides whether a fetched record is a new version at all, so it must leave out
everything that changes without a sponsor edit (``derivedSection``, ``versionHolder``,
last-update dates).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

NCT_RE = re.compile(r"\bNCT\d{8}\b", re.IGNORECASE)

# Paths (dotted, from the study object's top) whose changes are bookkeeping, not edits.
NOISE_PATHS: tuple[str, ...] = (
    "derivedSection",
    "protocolSection.statusModule.lastUpdateSubmitDate",
    "protocolSection.statusModule.lastUpdatePostDateStruct",
    "protocolSection.statusModule.statusVerifiedDate",
)


class MalformedRecord(ValueError):
    """A registry answer that is not a study object we can store."""


def nct_id_of(study: dict[str, Any]) -> str:
    try:
        nct_id = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError) as exc:
        raise MalformedRecord(
            "study record has no protocolSection.identificationModule.nctId"
        ) from exc
    if not isinstance(nct_id, str) or not NCT_RE.fullmatch(nct_id):
        raise MalformedRecord(f"study record has an invalid nctId {nct_id!r}")
    return nct_id.upper()


def extract_nct_ids(text: str) -> list[str]:
    """NCT ids in any text (bare ids or study URLs), upper-cased, first occurrence order, no repeats."""
    seen: dict[str, None] = {}
    for match in NCT_RE.finditer(text or ""):
        seen.setdefault(match.group(0).upper(), None)
    return list(seen)


def strip_noise(study: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``study`` without the noise paths."""
    clean = copy.deepcopy(study)
    for path in NOISE_PATHS:
        *parents, leaf = path.split(".")
        node: Any = clean
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(leaf, None)
    return clean


def content_hash(study: dict[str, Any]) -> str:
    """SHA-256 over the monitored content: same hash means nothing worth a version changed."""
    canonical = json.dumps(strip_noise(study), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def brief_title(study: dict[str, Any]) -> str:
    ident = study.get("protocolSection", {}).get("identificationModule", {})
    return ident.get("briefTitle") or ident.get("officialTitle") or ""


def overall_status(study: dict[str, Any]) -> str | None:
    return study.get("protocolSection", {}).get("statusModule", {}).get("overallStatus")


def enrollment(study: dict[str, Any]) -> tuple[int | None, str | None]:
    info = study.get("protocolSection", {}).get("designModule", {}).get("enrollmentInfo", {})
    return info.get("count"), info.get("type")
