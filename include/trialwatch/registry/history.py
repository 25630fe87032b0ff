"""Adapter for the registry website's version history ("History of Changes" tab).

These ``/api/int/`` endpoints are undocumented and carry no contract, so this module is the only
place that knows them, and every failure or surprise becomes ``HistoryUnavailable``: callers then
fall back to diffing the current version against the stored one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from trialwatch.registry.client import CtgovClient
from trialwatch.registry.errors import HistoryUnavailable, RegistryError


@dataclass
class VersionInfo:
    """One entry of a study's change list: version number (0 = oldest), posting date, status then."""

    version: int
    date: str
    status: str | None = None
    module_labels: list[str] = field(default_factory=list)


def int_base_url(v2_base_url: str) -> str:
    """``https://clinicaltrials.gov/api/v2`` -> ``https://clinicaltrials.gov/api/int``."""
    base = v2_base_url.rstrip("/")
    if not base.endswith("/api/v2"):
        raise HistoryUnavailable(
            f"cannot derive the history endpoints from base URL {v2_base_url!r}: it does not end in /api/v2"
        )
    return base[: -len("v2")] + "int"


class HistoryAdapter:
    """Version list and past versions of a study, through the same polite client as everything else."""

    def __init__(self, client: CtgovClient) -> None:
        self.client = client

    def versions(self, nct_id: str) -> list[VersionInfo]:
        """All posted versions of ``nct_id``, oldest first."""
        url = f"{int_base_url(self.client.base_url)}/studies/{quote(nct_id, safe='')}"
        data = self._get(url, {"history": "true"}, what=f"version list of {nct_id}")
        history = data.get("history") if isinstance(data, dict) else None
        changes = history.get("changes") if isinstance(history, dict) else None
        if not isinstance(changes, list):
            raise HistoryUnavailable(
                f"version list of {nct_id} from {url}: no history.changes list in the answer"
            )
        return sorted((_version_info(entry, nct_id, url) for entry in changes), key=lambda info: info.version)

    def study_at(self, nct_id: str, version: int) -> dict[str, Any]:
        """The full API v2 study object as it stood at ``version``."""
        url = f"{int_base_url(self.client.base_url)}/studies/{quote(nct_id, safe='')}/history/{int(version)}"
        data = self._get(url, None, what=f"version {version} of {nct_id}")
        study = data.get("study") if isinstance(data, dict) else None
        if not isinstance(study, dict) or not isinstance(study.get("protocolSection"), dict):
            raise HistoryUnavailable(
                f"version {version} of {nct_id} from {url}: no study.protocolSection in the answer"
            )
        ident = study["protocolSection"].get("identificationModule")
        served_id = ident.get("nctId") if isinstance(ident, dict) else None
        if not isinstance(served_id, str) or served_id.strip().upper() != nct_id.upper():
            raise HistoryUnavailable(
                f"version {version} of {nct_id} from {url}: the answer is a record of {served_id!r}"
            )
        served_version = data.get("studyVersion")
        if served_version is not None and served_version != version:
            raise HistoryUnavailable(
                f"version {version} of {nct_id} from {url}: the answer is studyVersion {served_version!r}"
            )
        return study

    def _get(self, url: str, params: dict[str, str] | None, *, what: str) -> Any:
        try:
            return self.client.get_json(url, params)
        except (RegistryError, requests.RequestException) as exc:
            raise HistoryUnavailable(f"{what} unavailable: {exc}") from exc


_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def place_by_date(infos: list[VersionInfo], posted: str | None) -> VersionInfo | None:
    """The version a record posted on ``posted`` is: the newest one posted on or before that day.

    For a record stored without its version number (the current record carries only its posting
    date). None when the date is unknown or older than every version.
    """
    if posted is None:
        return None
    placed = [info for info in infos if info.date <= posted]
    return max(placed, key=lambda info: info.version) if placed else None


def _version_info(entry: Any, nct_id: str, url: str) -> VersionInfo:
    if not isinstance(entry, dict):
        raise HistoryUnavailable(
            f"version list of {nct_id} from {url}: change entry {entry!r} is not an object"
        )
    version = entry.get("version")
    date = entry.get("date")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise HistoryUnavailable(f"version list of {nct_id} from {url}: bad version number {version!r}")
    if not isinstance(date, str) or not _DATE_RE.fullmatch(date):
        raise HistoryUnavailable(
            f"version list of {nct_id} from {url}: version {version} has no yyyy-mm-dd date ({date!r})"
        )
    status = entry.get("status")
    labels = entry.get("moduleLabels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise HistoryUnavailable(
            f"version list of {nct_id} from {url}: version {version} has bad moduleLabels"
        )
    return VersionInfo(
        version=version,
        date=date,
        status=status if isinstance(status, str) else None,
        module_labels=list(labels),
    )
