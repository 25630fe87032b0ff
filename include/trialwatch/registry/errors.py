"""Errors raised by the registry client; each names the URL it was about so a log line is actionable."""

from __future__ import annotations


class RegistryError(Exception):
    """Base for every failure talking to the registry."""


class RegistryHTTPError(RegistryError):
    """The registry answered with an HTTP status we do not (or no longer) retry."""

    def __init__(self, status: int, url: str, body_excerpt: str = "", hint: str = "") -> None:
        self.status = status
        self.url = url
        self.body_excerpt = body_excerpt
        message = f"HTTP {status} from {url}"
        if body_excerpt:
            message += f": {body_excerpt}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class NotJSONResponse(RegistryError):
    """A 200 answer whose body is not JSON (the registry sometimes serves an HTML page instead)."""

    def __init__(self, url: str, content_type: str, body_excerpt: str = "") -> None:
        self.url = url
        self.content_type = content_type
        self.body_excerpt = body_excerpt
        super().__init__(
            f"expected JSON from {url} but got content-type {content_type or '(none)'!r}: {body_excerpt}"
        )


class StudyNotFound(RegistryError):
    """The registry does not know this NCT id (404): removed from public view or never existed."""

    def __init__(self, nct_id: str, url: str = "") -> None:
        self.nct_id = nct_id
        self.url = url
        super().__init__(f"study {nct_id} not found" + (f" at {url}" if url else ""))


class HistoryUnavailable(RegistryError):
    """The version-history endpoints failed or answered in an unexpected shape; fall back to diffs."""
