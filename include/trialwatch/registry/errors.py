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


class MalformedResponse(RegistryError):
    """JSON the client refuses: NaN or Infinity, absurdly long numbers, nesting far past any record."""

    def __init__(self, url: str, reason: str, *, what: str = "answer") -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"malformed {what} from {url}: {reason}")


class ResponseTooLarge(RegistryError):
    """A body over the configured size limit; reading stopped there, so memory stays bounded."""

    def __init__(self, url: str, limit: int, size: int | None = None, *, setting: str) -> None:
        self.url = url
        self.limit = limit
        self.size = size
        seen = f"{size:,} bytes" if size is not None else "more"
        super().__init__(f"answer from {url} is {seen}, over the {limit:,}-byte limit ({setting})")


class RequestDeadlineExceeded(RegistryError):
    """One request (connect, headers and the whole body) took longer than its overall limit."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        super().__init__(f"no complete answer from {url} within {seconds:g} s (request_timeout)")


class RunDeadlineExceeded(RegistryError):
    """The caller's deadline for the whole run has passed: no new request is started."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"the run's deadline has passed; did not request {url}")


class WrongStudyReturned(RegistryError):
    """The registry answered a request for one NCT id with a record of another, unrelated id."""

    def __init__(self, requested: str, returned: str, url: str) -> None:
        self.requested = requested
        self.returned = returned
        self.url = url
        super().__init__(
            f"asked for {requested}, registry returned {returned} ({url}); "
            f"neither a redirect nor {returned}'s nctIdAliases make it an alias"
        )


class SearchCutOff(RegistryError):
    """Paging stopped before the registry said it was done; ``found`` holds the ids collected so far."""

    def __init__(self, message: str, found: list[str] | None = None) -> None:
        self.found: list[str] = list(found or [])
        super().__init__(message)
