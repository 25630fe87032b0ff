"""ClinicalTrials.gov access: the API v2 client and the version-history adapter."""

from __future__ import annotations

from trialwatch.registry.client import DEFAULT_BASE_URL, CtgovClient, FetchResult, StudyFetch
from trialwatch.registry.errors import (
    HistoryUnavailable,
    MalformedResponse,
    NotJSONResponse,
    RegistryError,
    RegistryHTTPError,
    RequestDeadlineExceeded,
    ResponseTooLarge,
    RunDeadlineExceeded,
    SearchCutOff,
    StudyNotFound,
    WrongStudyReturned,
)
from trialwatch.registry.history import HistoryAdapter, VersionInfo

__all__ = [
    "DEFAULT_BASE_URL",
    "CtgovClient",
    "FetchResult",
    "HistoryAdapter",
    "HistoryUnavailable",
    "MalformedResponse",
    "NotJSONResponse",
    "RegistryError",
    "RegistryHTTPError",
    "RequestDeadlineExceeded",
    "ResponseTooLarge",
    "RunDeadlineExceeded",
    "SearchCutOff",
    "StudyFetch",
    "StudyNotFound",
    "VersionInfo",
    "WrongStudyReturned",
]
