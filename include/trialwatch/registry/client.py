"""HTTP client for the ClinicalTrials.gov Data API v2.

Polite by construction (one connection, at most one request per ``min_interval``), retries only
what is transient, and turns every registry quirk the pipeline must survive (spurious page tokens,
HTML instead of JSON, alias redirects, whole-batch rejections) into plain results or named errors.

Bounded by construction too: every request has an overall deadline (connect, headers and the whole
body, however slowly it trickles), every body a size limit, every search a page limit and checks
for tokens that come round again or pages that bring nothing new, and the caller can set a deadline
for the whole run after which no request starts. Bodies are parsed with ``safejson``.
Politeness and backoff time goes through the injectable ``sleep``/``clock`` so tests can check
waits without waiting; the per-request deadline is real time, since sockets wait in real time.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Self
from urllib.parse import quote, urljoin, urlsplit

import msgspec
import requests
import urllib3
from requests.adapters import HTTPAdapter

from trialwatch import __version__, safejson
from trialwatch.records import MalformedRecord, nct_id_of
from trialwatch.registry.errors import (
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
from trialwatch.registry.served import ServedStudy, page_of_served

log = logging.getLogger(__name__)

_compact_json = msgspec.json.Encoder().encode

DEFAULT_BASE_URL = "https://clinicaltrials.gov/api/v2"
MAX_PAGE_SIZE = 1000  # the API coerces larger values down to this
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NOT_JSON_RETRIES = 2  # a 200 with an HTML body is usually a passing hiccup: try twice more
MAX_REDIRECTS = 5
EXCERPT_CHARS = 300
NCT_ID_RE = re.compile(r"NCT\d{8}")

# The largest record in the registry is about 3.6 MB (NCT02723955, docs/reference/ctgov-api.md):
# a single record may be four times that. A page holds up to 100 full records (filter.ids batches)
# or 1,000 ids; at the registry's 17 kB average a batch page is about 2 MB, so 64 MB leaves room
# for a batch full of results-heavy records while still refusing a runaway body. A page over the
# limit is not lost: the batch falls back to one request per trial, each held to the record limit.
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_PAGE_BYTES = 64 * 1024 * 1024
# A registry-wide query at pageSize 1000 is about 600 pages; more than this is a paging loop.
DEFAULT_MAX_PAGES = 1000
DEFAULT_REQUEST_TIMEOUT = 120.0
ERROR_BODY_BYTES = 64 * 1024  # enough of an error page to quote; the rest is not read
READ_CHUNK_BYTES = 256 * 1024


def default_user_agent() -> str:
    """A descriptive User-Agent: anonymous clients are what WAFs block first."""
    return f"trialwatch/{__version__} clinical-trial change monitor; {requests.utils.default_user_agent()}"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a response body on one line, enough to recognise an error page."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


@dataclass
class StudyFetch:
    """One study as ``/studies/{id}`` returned it; ``nct_id`` is the canonical id from the body."""

    requested_id: str
    nct_id: str
    study: dict[str, Any]
    redirected: bool


@dataclass
class FetchResult:
    """Outcome of fetching many ids: nothing requested is silently lost, each id lands somewhere."""

    # Records from filter.ids pages are ServedStudy (read-only mappings decoded on first use).
    studies: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


_request_deadline = threading.local()  # the deadline (time.monotonic) of this thread's request


class _HeaderDeadline:
    """For urllib3 connections: the status line and headers must arrive by the request's deadline.

    A socket timeout bounds each read, so a registry sending its headers a byte at a time would
    keep every read alive; a timer shuts the socket down when the deadline passes instead.
    """

    def getresponse(self):  # type: ignore[no-untyped-def]
        deadline = getattr(_request_deadline, "value", None)
        if deadline is None:
            return super().getresponse()  # type: ignore[misc]
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._cut)
        timer.daemon = True
        timer.start()
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            timer.cancel()

    def _cut(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


class _DeadlineHTTPConnection(_HeaderDeadline, urllib3.connection.HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_HeaderDeadline, urllib3.connection.HTTPSConnection):
    pass


class _DeadlineHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


@dataclass
class _JSONAnswer:
    url: str
    data: Any
    redirected: bool


@dataclass
class _RawAnswer:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    redirected: bool

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class CtgovClient:
    """ClinicalTrials.gov API v2 client. One instance per thread; close it (or use ``with``) when done."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        min_interval: float = 1.0,
        timeout: float = 30.0,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES,
        max_pages: int = DEFAULT_MAX_PAGES,
        run_deadline: float | None = None,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        max_backoff: float = 60.0,
        user_agent: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_interval < 0 or timeout <= 0 or max_retries < 0 or backoff_base < 0 or max_backoff < 0:
            raise ValueError(
                "CtgovClient needs min_interval >= 0, timeout > 0, max_retries >= 0, "
                "backoff_base >= 0 and max_backoff >= 0"
            )
        if request_timeout <= 0 or max_record_bytes <= 0 or max_page_bytes <= 0 or max_pages <= 0:
            raise ValueError(
                "CtgovClient needs request_timeout > 0, max_record_bytes > 0, max_page_bytes > 0 "
                "and max_pages > 0"
            )
        self.base_url = base_url.rstrip("/")
        self.min_interval = min_interval
        self.timeout = timeout  # per socket operation (connect, each read)
        self.request_timeout = request_timeout  # per request, start to last byte, real seconds
        self.max_record_bytes = max_record_bytes
        self.max_page_bytes = max_page_bytes
        self.max_pages = max_pages
        # In the time of ``clock`` (time.monotonic unless injected); None: no deadline.
        self.run_deadline = run_deadline
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock
        self._jitter = random.Random()
        self._last_request_at: float | None = None
        self._owns_session = session is None
        self._session = session if session is not None else self._single_connection_session()
        self._session.headers["User-Agent"] = user_agent or default_user_agent()
        self._session.headers.setdefault("Accept", "application/json")

    @staticmethod
    def _single_connection_session() -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        adapter.poolmanager.pool_classes_by_scheme = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_run_budget(self, seconds: float | None) -> None:
        """Refuse to start requests (or wait for a retry) ``seconds`` from now; None lifts the deadline."""
        self.run_deadline = None if seconds is None else self._clock() + seconds

    # ------------------------------------------------------------------ endpoints

    def version(self) -> dict[str, Any]:
        """``/version``: ``apiVersion`` and ``dataTimestamp`` (changes once per daily data build)."""
        answer = self._get_json("/version")
        data = answer.data
        if not isinstance(data, dict) or "dataTimestamp" not in data:
            raise RegistryError(
                f"unexpected answer from {answer.url}: no dataTimestamp in {excerpt(repr(data))}"
            )
        return data

    def get_study(self, nct_id: str) -> StudyFetch:
        """One study by id; follows the 301 an alias id gets. Raises ``StudyNotFound`` on 404."""
        requested = nct_id.strip().upper()
        try:
            answer = self._get_json(f"/studies/{quote(requested, safe='')}", one_record=True)
        except RegistryHTTPError as exc:
            if exc.status == 404:
                raise StudyNotFound(requested, exc.url) from exc
            raise
        if not isinstance(answer.data, dict):
            raise RegistryError(f"unexpected answer from {answer.url}: not a study object")
        try:
            canonical = nct_id_of(answer.data)
        except MalformedRecord as exc:
            raise RegistryError(f"unexpected answer from {answer.url}: {exc}") from exc
        if canonical != requested and not _is_alias(requested, canonical, answer):
            raise WrongStudyReturned(requested, canonical, answer.url)
        return StudyFetch(
            requested_id=requested,
            nct_id=canonical,
            study=answer.data,
            redirected=answer.redirected or canonical != requested,
        )

    def search(
        self,
        params: Mapping[str, str],
        *,
        fields: str | None = None,
        page_size: int = 1000,
        max_results: int | None = None,
        served: bool = False,
    ) -> Iterator[Mapping[str, Any]]:
        """Every study ``/studies`` answers for ``params``, page by page, each nctId once.

        Later pages repeat the first request's parameters exactly (the API rejects anything else)
        and paging stops on a missing token or an empty page: the API hands out a token whenever
        a page is exactly full, even when nothing follows. Paging that would never end raises
        ``SearchCutOff`` after what came before was yielded: a token handed out again (A, B, A…),
        a page with no study not seen already, or more than ``max_pages`` pages.
        ``served``: yield full records as ``ServedStudy`` (see ``registry.served``) where the page allows.
        """
        if "pageToken" in params:
            raise ValueError("search() manages pageToken itself; do not pass it in params")
        first_request = {key: str(value) for key, value in params.items()}
        if fields is not None:
            first_request["fields"] = fields
        first_request["pageSize"] = str(max(1, min(int(page_size), MAX_PAGE_SIZE)))
        if max_results is not None and max_results <= 0:
            return
        seen: set[str] = set()
        used_tokens: set[str] = set()
        yielded = 0
        pages = 0
        token: str | None = None
        while True:
            request = dict(first_request)
            if token:
                request["pageToken"] = token
                used_tokens.add(token)
            answer = self._get_json("/studies", request, served=served)
            data = answer.data
            if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
                raise RegistryError(f"unexpected answer from {answer.url}: no 'studies' list")
            pages += 1
            studies = data["studies"]
            if pages == 1 and "totalCount" in data:
                log.info("search %s: %s studies in total", first_request, data["totalCount"])
            fresh = 0
            for study in studies:
                nct_id = _nct_id_or_none(study)
                if nct_id is not None:
                    if nct_id in seen:
                        continue
                    seen.add(nct_id)
                fresh += 1
                yield study
                yielded += 1
                if max_results is not None and yielded >= max_results:
                    log.info("search: stopped at max_results=%d after %d page(s)", max_results, pages)
                    return
            token = data.get("nextPageToken")
            log.info("search: page %d had %d studies, %d so far", pages, len(studies), yielded)
            if not token or not studies:
                return
            if not isinstance(token, str):
                raise SearchCutOff(
                    f"search {first_request}: page {pages} has a page token that is not a string"
                )
            if token in used_tokens:
                raise SearchCutOff(
                    f"search {first_request}: the registry repeated page token {token!r} "
                    f"after {pages} pages; stopped paging"
                )
            if not fresh:
                raise SearchCutOff(
                    f"search {first_request}: page {pages} brought no study not seen on an earlier "
                    "page; stopped paging"
                )
            if pages >= self.max_pages:
                raise SearchCutOff(
                    f"search {first_request}: more than {self.max_pages} pages (max_pages, "
                    f"{yielded} studies so far); stopped paging"
                )

    def search_ids(self, params: Mapping[str, str], max_results: int | None = None) -> list[str]:
        """Just the nctIds a search matches (``fields=NCTId`` keeps the pages small)."""
        ids: list[str] = []
        try:
            for study in self.search(params, fields="NCTId", max_results=max_results):
                nct_id = _nct_id_or_none(study)
                if nct_id is None:
                    raise RegistryError(f"search {dict(params)} returned a study without an nctId")
                ids.append(nct_id)
        except SearchCutOff as exc:
            exc.found = ids  # the caller may keep what came before the cut
            raise
        return ids

    def fetch_studies(self, nct_ids: list[str], *, batch_size: int = 100) -> FetchResult:
        """Current records for many ids, ``filter.ids`` batches first, single calls where a batch fails.

        Every requested id ends up in exactly one of ``studies`` (by canonical id), ``aliases``,
        ``missing`` (404: gone from public view) or ``errors``.
        """
        result = FetchResult()
        wanted: dict[str, None] = {}
        for raw in nct_ids:
            nct_id = str(raw).strip().upper()
            if not NCT_ID_RE.fullmatch(nct_id):
                result.errors[str(raw)] = f"{raw!r} is not an NCT id (NCT followed by 8 digits)"
                continue
            wanted.setdefault(nct_id, None)
        ids = list(wanted)
        size = max(1, min(int(batch_size), MAX_PAGE_SIZE))
        for start in range(0, len(ids), size):
            self._fetch_batch(ids[start : start + size], result)
        log.info(
            "fetched %d ids: %d studies, %d aliases, %d missing, %d errors",
            len(ids),
            len(result.studies),
            len(result.aliases),
            len(result.missing),
            len(result.errors),
        )
        return result

    def get_json(self, path_or_url: str, params: Mapping[str, str] | None = None) -> Any:
        """Any JSON endpoint through the same politeness, retries and checks (absolute URLs allowed)."""
        return self._get_json(path_or_url, params).data

    # ------------------------------------------------------------------ batches

    def _fetch_batch(self, batch: list[str], result: FetchResult) -> None:
        try:
            answered = list(
                self.search({"filter.ids": "|".join(batch)}, page_size=MAX_PAGE_SIZE, served=True)
            )
        except (RegistryHTTPError, ResponseTooLarge, MalformedResponse) as exc:
            if isinstance(exc, RegistryHTTPError) and exc.status != 400:
                for nct_id in batch:
                    result.errors[nct_id] = str(exc)
                return
            # One bad id rejects the whole batch, one huge or malformed record spoils the page:
            # find out which by asking one at a time.
            log.warning("filter.ids batch of %d failed (%s); fetching one by one", len(batch), exc)
            for nct_id in batch:
                self._fetch_one(nct_id, result)
            return
        except RegistryError as exc:
            for nct_id in batch:
                result.errors[nct_id] = str(exc)
            return
        asked = set(batch)
        alias_of: dict[str, str] = {}
        for study in answered:
            canonical = _nct_id_or_none(study)
            if canonical is None:
                log.warning("filter.ids answer held a study without an nctId; ignored")
                continue
            aliases = {alias for alias in _aliases(study) if alias in asked}
            if canonical not in asked and not aliases:
                log.warning("filter.ids answer held %s, which was not asked for; ignored", canonical)
                continue
            # as the registry sends it: compact UTF-8
            size = study.size if isinstance(study, ServedStudy) else len(_compact_json(study))
            if size > self.max_record_bytes:
                for nct_id in {canonical, *aliases} & asked:
                    result.errors[nct_id] = (
                        f"{nct_id}: record is {size:,} bytes, over the {self.max_record_bytes:,}-byte "
                        "limit (max_record_bytes)"
                    )
                continue
            result.studies[canonical] = study
            alias_of.update(dict.fromkeys(aliases, canonical))
        for nct_id in batch:
            if nct_id in result.errors:
                continue
            if nct_id in result.studies:
                continue
            if nct_id in alias_of:
                result.aliases[nct_id] = alias_of[nct_id]
                continue
            self._fetch_one(nct_id, result)

    def _fetch_one(self, nct_id: str, result: FetchResult) -> None:
        try:
            fetched = self.get_study(nct_id)
        except StudyNotFound:
            result.missing.append(nct_id)
            return
        except RegistryError as exc:
            message = str(exc)
            result.errors[nct_id] = message if nct_id in message else f"{nct_id}: {message}"
            return
        result.studies[fetched.nct_id] = fetched.study
        if fetched.nct_id != nct_id:
            result.aliases[nct_id] = fetched.nct_id

    # ------------------------------------------------------------------ transport

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def _get_json(
        self,
        path_or_url: str,
        params: Mapping[str, str] | None = None,
        *,
        one_record: bool = False,
        served: bool = False,
    ) -> _JSONAnswer:
        """The parsed answer; ``one_record`` holds it to ``max_record_bytes`` instead of ``max_page_bytes``.

        ``served``: a ``/studies`` page with its studies as ``ServedStudy`` where it has their shape.
        """
        url = self._url(path_or_url)
        attempt = 0
        while True:
            limit = (
                ("max_record_bytes", self.max_record_bytes)
                if one_record
                else ("max_page_bytes", self.max_page_bytes)
            )
            answer = self._send(url, params, limit)
            if served and (page := page_of_served(answer.body)) is not None:
                return _JSONAnswer(url=answer.url, data=page, redirected=answer.redirected)
            try:
                data = safejson.loads(answer.body)
            except safejson.NotJSON:
                content_type = answer.headers.get("Content-Type", "")
                if attempt < NOT_JSON_RETRIES:
                    delay = self._backoff(attempt)
                    log.warning(
                        "non-JSON answer (%s) from %s; retrying in %.1fs", content_type, answer.url, delay
                    )
                    self._pause(delay, answer.url)
                    attempt += 1
                    continue
                raise NotJSONResponse(answer.url, content_type, excerpt(answer.text)) from None
            except safejson.UnsafeJSON as exc:  # JSON, but not one a record can be: no point retrying
                raise MalformedResponse(
                    answer.url, str(exc), what="record" if one_record else "answer"
                ) from None
            return _JSONAnswer(url=answer.url, data=data, redirected=answer.redirected)

    def _send(self, url: str, params: Mapping[str, str] | None, limit: tuple[str, int]) -> _RawAnswer:
        """GET with politeness, retries on transient failures, hand-followed redirects and the limits."""
        attempt = 0
        redirects = 0
        redirected = False
        while True:
            # Prepared once: the URL sent is the URL named in logs and errors.
            full_url = requests.Request("GET", url, params=params).prepare().url or url
            self._wait_turn()
            if self.run_deadline is not None and self._clock() >= self.run_deadline:
                raise RunDeadlineExceeded(full_url)
            try:
                answer = self._request(full_url, limit, redirected)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                # refused, reset, stalled past the read timeout, truncated body
                if attempt >= self.max_retries:
                    raise RegistryError(
                        f"could not get {full_url} after {attempt + 1} attempt(s): {exc}"
                    ) from exc
                delay = self._backoff(attempt)
                log.warning("%s for %s; retry %d in %.1fs", type(exc).__name__, full_url, attempt + 1, delay)
                self._pause(delay, full_url)
                attempt += 1
                continue
            status = answer.status
            if status in REDIRECT_STATUSES and "Location" in answer.headers:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise RegistryHTTPError(status, answer.url, hint=f"more than {MAX_REDIRECTS} redirects")
                target = urljoin(answer.url, answer.headers["Location"])
                if urlsplit(target).netloc != urlsplit(self.base_url).netloc:
                    raise RegistryHTTPError(status, answer.url, hint=f"redirect to another host: {target}")
                url = target
                params = None  # the Location already carries what the registry wants
                redirected = True
                continue
            if status in RETRY_STATUSES:
                if attempt >= self.max_retries:
                    raise RegistryHTTPError(
                        status,
                        answer.url,
                        excerpt(answer.text),
                        hint=f"gave up after {attempt + 1} attempts",
                    )
                delay = self._retry_delay(answer, attempt)
                log.warning("HTTP %d from %s; retry %d in %.1fs", status, answer.url, attempt + 1, delay)
                self._pause(delay, answer.url)
                attempt += 1
                continue
            if status >= 400:
                hint = "blocked; check the User-Agent and request rate" if status == 403 else ""
                raise RegistryHTTPError(status, answer.url, excerpt(answer.text), hint=hint)
            return answer

    def _request(self, full_url: str, limit: tuple[str, int], redirected: bool) -> _RawAnswer:
        """One GET, its body read within ``request_timeout`` and ``limit`` (setting name, bytes).

        Of an error page only the start is read, enough to quote.
        """
        deadline = time.monotonic() + self.request_timeout
        wait = min(self.timeout, self.request_timeout)
        _request_deadline.value = deadline
        try:
            response = self._session.get(full_url, timeout=(wait, wait), allow_redirects=False, stream=True)
        except requests.RequestException:
            if time.monotonic() >= deadline:  # cut by the header timer, not a network failure
                raise RequestDeadlineExceeded(full_url, self.request_timeout) from None
            raise
        finally:
            _request_deadline.value = None
        complete = False
        try:
            status = response.status_code
            if status >= 300:
                body = self._read_body(response, deadline, ("", ERROR_BODY_BYTES), truncate=True)
            else:
                body = self._read_body(response, deadline, limit, truncate=False)
            complete = True
        finally:
            if not complete or response.raw.connection is not None:
                response.close()  # unread bytes left on the connection: it cannot be reused
        return _RawAnswer(
            url=response.url, status=status, headers=response.headers, body=body, redirected=redirected
        )

    def _read_body(
        self, response: requests.Response, deadline: float, limit: tuple[str, int], *, truncate: bool
    ) -> bytes:
        """The body, read a chunk at a time so neither a trickle nor a flood outlasts the limits.

        Each socket read may wait only until the request's deadline, so a body that sends one byte
        every few seconds fails at the deadline rather than after the last byte.
        """
        url = response.url
        setting, max_bytes = limit
        declared = response.headers.get("Content-Length", "")
        if not truncate and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(url, max_bytes, int(declared), setting=setting)
        raw = response.raw
        chunks: list[bytes] = []  # joined once at the end: a growing buffer copies a page again and again
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RequestDeadlineExceeded(url, self.request_timeout)
            connection = raw.connection
            sock = getattr(connection, "sock", None)
            if sock is not None:
                sock.settimeout(min(self.timeout, remaining))
            try:
                chunk = raw.read1(READ_CHUNK_BYTES)
            except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
                if time.monotonic() >= deadline - 0.01:
                    raise RequestDeadlineExceeded(url, self.request_timeout) from None
                raise
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                if truncate:
                    return b"".join(chunks)[:max_bytes]
                raise ResponseTooLarge(url, max_bytes, setting=setting)

    def _pause(self, delay: float, url: str) -> None:
        """Wait before a retry, unless the run's deadline would pass meanwhile."""
        if self.run_deadline is not None and self._clock() + delay >= self.run_deadline:
            raise RunDeadlineExceeded(url)
        self._sleep(delay)

    def _wait_turn(self) -> None:
        """At most one request per ``min_interval`` (robots.txt asks for a 1 s crawl delay)."""
        if self.min_interval > 0 and self._last_request_at is not None:
            wait = self._last_request_at + self.min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_request_at = self._clock()

    def _backoff(self, attempt: int) -> float:
        delay = self.backoff_base * (2**attempt) + self._jitter.uniform(0, self.backoff_base * 0.1)
        return min(self.max_backoff, delay)

    def _retry_delay(self, response: _RawAnswer, attempt: int) -> float:
        """Retry-After when the registry gives one on 429/503, exponential backoff otherwise."""
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                if retry_after > self.max_backoff:
                    raise RegistryHTTPError(
                        response.status,
                        response.url,
                        excerpt(response.text),
                        hint=f"registry asks to retry after {retry_after:.0f}s, more than max_backoff "
                        f"{self.max_backoff:.0f}s",
                    )
                return retry_after
        return self._backoff(attempt)


def updated_since(params: Mapping[str, str], since: date) -> dict[str, str]:
    """``params`` narrowed to records whose last update was posted on or after ``since``.

    A query's own ``filter.advanced`` is kept and ANDed with the window, in parentheses so an OR in
    it cannot bind to the window (Essie: AND binds tighter than OR; parentheses group,
    https://clinicaltrials.gov/api/gui/ref/expr). LastUpdatePostDate is the date the registry
    posted the record's last change, so every new registry version moves it.
    """
    window = f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},MAX]"
    own = str(params.get("filter.advanced") or "").strip()
    return {**params, "filter.advanced": f"({own}) AND {window}" if own else window}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _aliases(study: Mapping[str, Any]) -> set[str]:
    """The old ids the record itself lists as its aliases (``identificationModule.nctIdAliases``)."""
    if isinstance(study, ServedStudy):
        return set(study.aliases)
    ident = study.get("protocolSection", {}).get("identificationModule", {})
    aliases = ident.get("nctIdAliases") if isinstance(ident, dict) else None
    if not isinstance(aliases, list):
        return set()
    return {alias.strip().upper() for alias in aliases if isinstance(alias, str)}


def _is_alias(requested: str, canonical: str, answer: _JSONAnswer) -> bool:
    """Whether the registry itself says ``requested`` is an old id of ``canonical``.

    Either the record lists it in ``nctIdAliases``, or the registry redirected to the canonical
    record's own address; a record of another id with neither is a registry error, not a merge.
    """
    if requested in _aliases(answer.data):
        return True
    if not answer.redirected:
        return False
    last_segment = urlsplit(answer.url).path.rstrip("/").rpartition("/")[2].upper()
    return last_segment == canonical


def _nct_id_or_none(study: Any) -> str | None:
    if isinstance(study, ServedStudy):
        return study.nct_id
    try:
        return nct_id_of(study)
    except MalformedRecord:
        return None
