"""ClinicalTrials.gov access: the API v2 client and the version-history adapter."""

from __future__ import annotations

from trialwatch.registry.client import DEFAULT_BASE_URL, CtgovClient, FetchResult, StudyFetch
from trialwatch.registry.errors import (
    HistoryUnavailable,
    NotJSONResponse,
    RegistryError,
    RegistryHTTPError,
    StudyNotFound,
)
from trialwatch.registry.history import HistoryAdapter, VersionInfo

__all__ = [
    "DEFAULT_BASE_URL",
    "CtgovClient",
    "FetchResult",
    "HistoryAdapter",
    "HistoryUnavailable",
    "NotJSONResponse",
    "RegistryError",
    "RegistryHTTPError",
    "StudyFetch",
    "StudyNotFound",
    "VersionInfo",
]
