"""The change-event vocabulary shared by the diff, the store, the digests, the CLI and the UI.

Everything that reports a change speaks in ``ChangeEvent``s; nothing re-diffs records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

CATEGORIES: tuple[str, ...] = (
    "status",
    "enrollment",
    "dates",
    "design",
    "sites",
    "eligibility",
    "arms",
    "outcomes",
    "sponsor",
    "contacts",
    "results",
    "documents",
    "references",
    "identity",
    "other",
)

# Highest first, as docs/design.md orders them.
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "info")
SEVERITY_RANK: dict[str, int] = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}

REGISTRY_SITE = "https://clinicaltrials.gov"


def at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` is as high as ``minimum`` or higher."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[minimum]


def study_url(nct_id: str) -> str:
    return f"{REGISTRY_SITE}/study/{nct_id}"


def history_url(nct_id: str) -> str:
    return f"{REGISTRY_SITE}/study/{nct_id}?tab=history"


def compare_url(nct_id: str, old_version: int | None, new_version: int | None) -> str:
    """The registry's side-by-side comparison of two record versions (its "History of Changes" tab)."""
    if old_version is None or new_version is None:
        return history_url(nct_id)
    return f"{REGISTRY_SITE}/study/{nct_id}?tab=history&a={old_version}&b={new_version}#version-content-panel"


@dataclass
class ChangeEvent:
    """One material change between two versions of one study record.

    ``field`` is the human label ("Overall status"), ``path`` the dotted location in the API v2
    study object. ``detail`` is a short explanation a reader needs beside old → new
    ("+25%", "slipped 92 days", "ESTIMATED → ACTUAL").

    One event may stand for the same change at many elements ("221 sites: NOT_YET_RECRUITING →
    RECRUITING"): ``count`` says how many, ``members`` names them (one line each). Both live in
    ``extra`` (keys ``count`` and ``members``), so every store keeps them without a column of its own;
    a single change has count 1 and no members.
    """

    category: str
    field: str
    old: Any = None
    new: Any = None
    severity: str = "info"
    path: str = ""
    detail: str = ""
    nct_id: str = ""
    old_version: int | None = None
    new_version: int | None = None
    old_version_date: str | None = None
    new_version_date: str | None = None
    old_hash: str | None = None
    new_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown event category {self.category!r}; expected one of {CATEGORIES}")
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}; expected one of {SEVERITIES}")

    @property
    def compare_url(self) -> str:
        return compare_url(self.nct_id, self.old_version, self.new_version)

    @property
    def count(self) -> int:
        """How many elements this event stands for (1 for a single change)."""
        return int(self.extra.get("count", 1))

    @property
    def members(self) -> list[str]:
        """The elements an aggregated event stands for, one reader's line each; [] for a single change."""
        return list(self.extra.get("members", []))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["compare_url"] = self.compare_url if self.nct_id else None
        data["count"] = self.count
        data["members"] = self.members
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChangeEvent:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class StoredEvent:
    """A change event with what the store knows about it (row id, when it was detected)."""

    event: ChangeEvent
    id: int | None = None
    detected_at: datetime | None = None
