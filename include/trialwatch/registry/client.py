"""HTTP client for the ClinicalTrials.gov Data API v2.

Polite by construction (one connection, at most one request per ``min_interval``), retries only
what is transient, and turns every registry quirk the pipeline must survive (spurious page tokens,
HTML instead of JSON, alias redirects, whole-batch rejections) into plain results or named errors.
Time goes through the injectable ``sleep``/``clock`` so tests can check waits without waiting.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from trialwatch import __version__
from trialwatch.records import MalformedRecord, nct_id_of
from trialwatch.registry.errors import NotJSONResponse, RegistryError, RegistryHTTPError, StudyNotFound

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://clinicaltrials.gov/api/v2"
MAX_PAGE_SIZE = 1000  # the API coerces larger values down to this
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NOT_JSON_RETRIES = 2  # a 200 with an HTML body is usually a passing hiccup: try twice more
MAX_REDIRECTS = 5
EXCERPT_CHARS = 300
NCT_ID_RE = re.compile(r"NCT\d{8}")


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

    studies: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class _JSONAnswer:
    url: str
    data: Any
    redirected: bool


class CtgovClient:
    """ClinicalTrials.gov API v2 client. One instance per thread; close it (or use ``with``) when done."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        min_interval: float = 1.0,
        timeout: float = 30.0,
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
        self.base_url = base_url.rstrip("/")
        self.min_interval = min_interval
        self.timeout = timeout
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
            answer = self._get_json(f"/studies/{quote(requested, safe='')}")
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
    ) -> Iterator[dict[str, Any]]:
        """Every study ``/studies`` answers for ``params``, page by page, each nctId once.

        Later pages repeat the first request's parameters exactly (the API rejects anything else)
        and paging stops on a missing token or an empty page: the API hands out a token whenever
        a page is exactly full, even when nothing follows.
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
        yielded = 0
        pages = 0
        token: str | None = None
        while True:
            request = dict(first_request)
            if token:
                request["pageToken"] = token
            answer = self._get_json("/studies", request)
            data = answer.data
            if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
                raise RegistryError(f"unexpected answer from {answer.url}: no 'studies' list")
            pages += 1
            studies = data["studies"]
            if pages == 1 and "totalCount" in data:
                log.info("search %s: %s studies in total", first_request, data["totalCount"])
            for study in studies:
                nct_id = _nct_id_or_none(study)
                if nct_id is not None:
                    if nct_id in seen:
                        continue
                    seen.add(nct_id)
                yield study
                yielded += 1
                if max_results is not None and yielded >= max_results:
                    log.info("search: stopped at max_results=%d after %d page(s)", max_results, pages)
                    return
            previous, token = token, data.get("nextPageToken")
            log.info("search: page %d had %d studies, %d so far", pages, len(studies), yielded)
            if not token or not studies:
                return
            if token == previous:
                raise RegistryError(f"search {first_request}: the registry repeated page token {token!r}")

    def search_ids(self, params: Mapping[str, str], max_results: int | None = None) -> list[str]:
        """Just the nctIds a search matches (``fields=NCTId`` keeps the pages small)."""
        ids: list[str] = []
        for study in self.search(params, fields="NCTId", max_results=max_results):
            nct_id = _nct_id_or_none(study)
            if nct_id is None:
                raise RegistryError(f"search {dict(params)} returned a study without an nctId")
            ids.append(nct_id)
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
            answered = list(self.search({"filter.ids": "|".join(batch)}, page_size=MAX_PAGE_SIZE))
        except RegistryHTTPError as exc:
            if exc.status != 400:
                for nct_id in batch:
                    result.errors[nct_id] = str(exc)
                return
            # One bad id rejects the whole batch: find out which by asking one at a time.
            log.warning("filter.ids batch of %d rejected (%s); fetching one by one", len(batch), exc)
            for nct_id in batch:
                self._fetch_one(nct_id, result)
            return
        except RegistryError as exc:
            for nct_id in batch:
                result.errors[nct_id] = str(exc)
            return
        alias_of: dict[str, str] = {}
        for study in answered:
            canonical = _nct_id_or_none(study)
            if canonical is None:
                log.warning("filter.ids answer held a study without an nctId; ignored")
                continue
            result.studies[canonical] = study
            aliases = study.get("protocolSection", {}).get("identificationModule", {}).get("nctIdAliases", [])
            for alias in aliases or []:
                alias_of[str(alias).upper()] = canonical
        for nct_id in batch:
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
            result.errors[nct_id] = str(exc)
            return
        result.studies[fetched.nct_id] = fetched.study
        if fetched.nct_id != nct_id:
            result.aliases[nct_id] = fetched.nct_id

    # ------------------------------------------------------------------ transport

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def _get_json(self, path_or_url: str, params: Mapping[str, str] | None = None) -> _JSONAnswer:
        url = self._url(path_or_url)
        attempt = 0
        while True:
            response, redirected = self._send(url, params)
            try:
                data = json.loads(response.content)
            except ValueError:
                content_type = response.headers.get("Content-Type", "")
                if attempt < NOT_JSON_RETRIES:
                    delay = self._backoff(attempt)
                    log.warning(
                        "non-JSON answer (%s) from %s; retrying in %.1fs", content_type, response.url, delay
                    )
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise NotJSONResponse(response.url, content_type, excerpt(response.text)) from None
            return _JSONAnswer(url=response.url, data=data, redirected=redirected)

    def _send(self, url: str, params: Mapping[str, str] | None) -> tuple[requests.Response, bool]:
        """GET with politeness, retries on transient failures and hand-followed redirects."""
        attempt = 0
        redirects = 0
        redirected = False
        while True:
            self._wait_turn()
            try:
                response = self._session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:  # refused, reset, timed out, truncated body
                full_url = requests.Request("GET", url, params=params).prepare().url
                if attempt >= self.max_retries:
                    raise RegistryError(
                        f"could not get {full_url} after {attempt + 1} attempt(s): {exc}"
                    ) from exc
                delay = self._backoff(attempt)
                log.warning("%s for %s; retry %d in %.1fs", type(exc).__name__, full_url, attempt + 1, delay)
                self._sleep(delay)
                attempt += 1
                continue
            status = response.status_code
            if status in REDIRECT_STATUSES and "Location" in response.headers:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise RegistryHTTPError(status, response.url, hint=f"more than {MAX_REDIRECTS} redirects")
                target = urljoin(response.url, response.headers["Location"])
                if urlsplit(target).netloc != urlsplit(self.base_url).netloc:
                    raise RegistryHTTPError(status, response.url, hint=f"redirect to another host: {target}")
                url = target
                params = None  # the Location already carries what the registry wants
                redirected = True
                continue
            if status in RETRY_STATUSES:
                if attempt >= self.max_retries:
                    raise RegistryHTTPError(
                        status,
                        response.url,
                        excerpt(response.text),
                        hint=f"gave up after {attempt + 1} attempts",
                    )
                delay = self._retry_delay(response, attempt)
                log.warning("HTTP %d from %s; retry %d in %.1fs", status, response.url, attempt + 1, delay)
                self._sleep(delay)
                attempt += 1
                continue
            if status >= 400:
                hint = "blocked; check the User-Agent and request rate" if status == 403 else ""
                raise RegistryHTTPError(status, response.url, excerpt(response.text), hint=hint)
            return response, redirected

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

    def _retry_delay(self, response: requests.Response, attempt: int) -> float:
        """Retry-After when the registry gives one on 429/503, exponential backoff otherwise."""
        if response.status_code in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                if retry_after > self.max_backoff:
                    raise RegistryHTTPError(
                        response.status_code,
                        response.url,
                        excerpt(response.text),
                        hint=f"registry asks to retry after {retry_after:.0f}s, more than max_backoff "
                        f"{self.max_backoff:.0f}s",
                    )
                return retry_after
        return self._backoff(attempt)


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


def _nct_id_or_none(study: Any) -> str | None:
    try:
        return nct_id_of(study)
    except MalformedRecord:
        return None
