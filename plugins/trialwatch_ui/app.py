"""The Trial Watch FastAPI app: server-rendered pages and a JSON API over the trialwatch store.

Mounted by the Airflow api-server under ``/trialwatch``. Routes are sync ``def``s, so FastAPI runs the
blocking SQLAlchemy calls in its threadpool. Every route needs a logged-in Airflow user; pages send
anonymous visitors to Airflow's login, the API answers 401.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlparse

from airflow.api_fastapi.core_api.security import requires_authenticated
from alembic.util import CommandError
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from trialwatch import airflow_glue, vocabulary
from trialwatch.findings import CODES as FINDING_CODES
from trialwatch.store.db import Store
from trialwatch.watchlists import NAME_RE

from trialwatch_ui import URL_PREFIX, charts, queries
from trialwatch_ui.preview import render_preview

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent

# One dependency object, so tests and benchmarks can override exactly this one.
require_user = requires_authenticated()

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
# The digest HTML is rendered from registry text: it runs with no script, no network, no origin.
DIGEST_HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"
)

SortKey = Literal[
    "last_change", "detected", "nct_id", "title", "status", "enrollment", "severity", "watchlist"
]
NO_SYNC_YET = (
    "No sync has run yet, so there is nothing to show. Trigger the trialwatch_sync DAG in Airflow "
    "(Dags ▸ trialwatch_sync ▸ Trigger); its first run fills the store."
)
Order = Literal["asc", "desc"]
# Bounds on what a URL may ask for, so odd input is a 422 and never reaches the database: a page or id
# beyond 64 bits overflows SQLite and PostgreSQL integers, and PostgreSQL refuses NUL characters.
MAX_PAGE = 1_000_000_000
MAX_ID = 2**63 - 1
MAX_TEXT = 200
NO_NUL = r"^[^\x00]*$"
PageNumber = Query(1, ge=1, le=MAX_PAGE, description="1-based page number")
PerPage = Query(queries.DEFAULT_PER_PAGE, ge=1, le=queries.MAX_PER_PAGE)
DigestId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="digest id in the outbox")]
NctId = Annotated[str, PathParam(max_length=MAX_TEXT, pattern=NO_NUL)]
SearchText = Annotated[str, Query(max_length=MAX_TEXT, pattern=NO_NUL)]
# Watchlist names are file stems (see trialwatch.watchlists); anything else cannot name one.
WATCHLIST_QUERY = Query(max_length=MAX_TEXT, pattern=f"^{NAME_RE.pattern}$", description="watchlist name")
WatchlistName = Annotated[str | None, WATCHLIST_QUERY]
# The preview explains an unknown name itself (and never queries the store with it), so it takes any text.
PREVIEW_QUERY = Query(max_length=MAX_TEXT, pattern=NO_NUL, description="watchlist name")
PreviewWatchlist = Annotated[str | None, PREVIEW_QUERY]
# A finding code (trialwatch.findings.CODES) or "any": only trials with such an open finding.
FINDING_QUERY = Query(
    pattern=f"^({'|'.join(('any', *FINDING_CODES))})$", description="finding code, or 'any' open finding"
)
FindingFilter = Annotated[str | None, FINDING_QUERY]
# A page cursor from a previous page's Next/Previous link ("last": the last page).
CURSOR_QUERY = Query(max_length=2000, pattern=r"^[A-Za-z0-9_-]*$", description="page cursor")
Cursor = Annotated[str | None, CURSOR_QUERY]
TimelineVersion = Annotated[int | None, Query(ge=1, le=MAX_ID, description="one stored version's events")]


class StoreUnavailable(RuntimeError):
    """The store cannot be read (no schema yet, database down)."""


def prepare_schema(store: Store) -> bool:
    """Create or upgrade the store's schema, so a fresh install shows empty pages, not a missing table.

    The UI may have no right to change the schema (a read-only file, a PostgreSQL role that may only
    read): then it logs why and reads whatever is there; the pages say what to do next.
    """
    try:
        # A writable engine of its own: the UI's engine takes no write lock on SQLite.
        writer = Store(store.url)
        try:
            writer.upgrade()
        finally:
            writer.dispose()
    except (SQLAlchemyError, CommandError, OSError) as error:
        log.warning("cannot create or upgrade the schema of the trialwatch store %s: %s", store, error)
        return False
    return True


class StoreHolder:
    """Opens the store on first use, so loading the plugin never touches a database."""

    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._prepared = False
        self._opening = threading.Lock()

    @property
    def store(self) -> Store:
        # Routes run in a threadpool: open one engine, not one per concurrent first request.
        with self._opening:
            if self._store is None:
                # The same resolver as the DAG tasks: the trialwatch_store connection, then the environment.
                self._store = airflow_glue.store(readonly=True)
            if not self._prepared:
                # Once per app, failed or not: a store the UI may not change is not retried per request.
                self._prepared = True
                prepare_schema(self._store)
            return self._store

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self.store.session() as session:
                yield session
        except (OperationalError, ProgrammingError) as error:
            log.exception("cannot read the trialwatch store %s", self.store)
            raise StoreUnavailable(
                f"cannot read the trialwatch store {self.store!r}: {error.orig}. "
                "Run `trialwatch db` (or a first sync) to create its schema."
            ) from error


def _airflow_root(request: Request) -> str:
    """The Airflow api-server's own path prefix, seen from inside this mounted app."""
    root_path = request.scope.get("root_path", "")
    return root_path.removesuffix(URL_PREFIX)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    login = f"{_airflow_root(request)}/api/v2/auth/login?{urlencode({'next': target})}"
    return RedirectResponse(login, status_code=status.HTTP_303_SEE_OTHER)


def _sandboxed_html(html: str) -> HTMLResponse:
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": DIGEST_HTML_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _is_api(request: Request) -> bool:
    return request.url.path.removeprefix(request.scope.get("root_path", "")).startswith("/api/")


def _is_feed(request: Request) -> bool:
    # A feed reader gets a plain 401, never Airflow's login page.
    return request.url.path.removeprefix(request.scope.get("root_path", "")) == "/feed.atom"


def _no_schema_yet(error: BaseException) -> bool:
    """True when the store is reachable but has no tables: nothing has synced into it yet."""
    cause = getattr(error.__cause__, "orig", None)
    return getattr(cause, "pgcode", None) == "42P01" or "no such table" in str(cause)


def _same_origin(request: Request) -> bool:
    """A state-changing form post must come from a Trial Watch page, not from another site."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    # Compare hosts only: behind a TLS-terminating proxy the app may see http for an https origin.
    return origin is None or urlparse(origin).netloc == request.headers.get("host", request.url.netloc)


def _problems(error: RequestValidationError) -> str:
    """FastAPI's validation errors as one line naming each parameter."""
    parts = []
    for problem in error.errors():
        where = [str(part) for part in problem.get("loc", ()) if part not in ("query", "path", "body")]
        parts.append(f"{'.'.join(where) or 'request'}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts)


def severity_css() -> str:
    """The severity colours as CSS, from the same table the email uses."""
    rules = [
        ":root { "
        + " ".join(f"--{name}: {colour};" for name, colour in vocabulary.SEVERITY_COLORS.items())
        + " }"
    ]
    rules += [f".sev-{name} {{ background: var(--{name}); }}" for name in vocabulary.SEVERITY_COLORS]
    return "\n".join(rules) + "\n"


def create_app(store: Store | None = None) -> FastAPI:
    """Build the app; ``store`` defaults to the tasks' store (``airflow_glue.store``), opened on first request."""
    holder = StoreHolder(store)
    templates = Jinja2Templates(directory=HERE / "templates")
    # Registry codes as words, from the one vocabulary the email uses too.
    templates.env.filters.update(
        words=vocabulary.label,
        labels=vocabulary.labels,
        status_words=vocabulary.status_label,
        humanise=vocabulary.humanise,
        humanise_text=vocabulary.humanise_text,
    )
    app = FastAPI(
        title="Trial Watch",
        description="What happened to each watched clinical trial, from the trialwatch store.",
        # The schema and the stylesheet are served by routes below that need a logged-in user, like
        # every other route; the interactive docs would load scripts from a CDN, so there are none.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    static_files = StaticFiles(directory=HERE / "static")

    def url(request: Request, name: str, query: dict[str, Any] | None = None, **path_params: Any) -> str:
        path = request.scope.get("root_path", "") + app.url_path_for(name, **path_params)
        clean = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        return f"{path}?{urlencode(clean)}" if clean else path

    def render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
        response = templates.TemplateResponse(
            request,
            template,
            {
                "url": lambda name, query=None, **params: url(request, name, query, **params),
                "status_code": code,
                **context,
            },
            status_code=code,
        )
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    @app.exception_handler(StarletteHTTPException)
    async def login_or_error(request: Request, exc: StarletteHTTPException) -> Response:
        unauthenticated = exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN)
        if _is_api(request) or _is_feed(request):
            return await http_exception_handler(request, exc)
        if unauthenticated:
            return _login_redirect(request)
        return render(request, "error.html", code=exc.status_code, message=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return await request_validation_exception_handler(request, exc)
        return render(
            request,
            "error.html",
            code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            message=f"This page cannot take these parameters: {_problems(exc)}.",
        )

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        if _no_schema_yet(exc):
            message = NO_SYNC_YET
            if _is_api(request):
                return JSONResponse({"detail": message}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
            return render(request, "empty.html", message=message)
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        return render(request, "error.html", code=status.HTTP_503_SERVICE_UNAVAILABLE, message=str(exc))

    def within_pages(data: dict[str, Any]) -> dict[str, Any]:
        """A page past the last one is an error the reader should see, not an empty list."""
        if data["page"] > data["pages"]:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"Page {data['page']} is past the last page ({data['pages']}) of this list.",
            )
        return data

    def read(query: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            with holder.session() as session:
                return query(session, *args, **kwargs)
        except queries.NotFound as missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from missing

    def synced_yet() -> bool:
        return read(queries.health, queries.PageRequest(1, 1))["total"] > 0

    def overview_data(
        page: int,
        per_page: int,
        sort: str,
        order: str,
        watchlist: str | None,
        finding: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        with holder.session() as session:
            try:
                data = queries.overview(
                    session,
                    queries.PageRequest(page, per_page),
                    sort=sort,
                    descending=order == "desc",
                    watchlist=watchlist or None,
                    finding=finding or None,
                    after=after or None,
                    before=before or None,
                )
            except queries.BadCursor as bad:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(bad)) from bad
        if watchlist and watchlist not in {known["name"] for known in data["watchlists"]}:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"No trial is watched by a watchlist named {watchlist!r}; "
                "a watchlist's trials appear after its first sync.",
            )
        return data

    api = APIRouter(prefix="/api", dependencies=[Depends(require_user)], tags=["Trial Watch API"])
    pages = APIRouter(dependencies=[Depends(require_user)], include_in_schema=False)

    # ---- JSON API -------------------------------------------------------------------------------

    @api.get("/overview", name="api_overview")
    def api_overview(
        page: int = PageNumber,
        per_page: int = PerPage,
        sort: SortKey = "last_change",
        order: Order = "desc",
        watchlist: WatchlistName = None,
        finding: FindingFilter = None,
        after: Cursor = None,
        before: Cursor = None,
    ) -> dict[str, Any]:
        """Watched trials, one row per (watchlist, trial), sorted and paginated; ``finding`` keeps the
        trials with an open finding of that code (or of any code). ``after``/``before`` take a page's
        ``next_cursor``/``prev_cursor`` (``before=last``: the last page), as cheap at any depth."""
        return overview_data(page, per_page, sort, order, watchlist, finding, after, before)

    @api.get("/trials/{nct_id}", name="api_trial")
    def api_trial(nct_id: NctId, page: int = PageNumber, version: TimelineVersion = None) -> dict[str, Any]:
        """A trial's current state and a page of its timeline of versions and change events; with
        ``version``, that version's events, a page at a time."""
        return within_pages(read(queries.trial, nct_id, page, version))

    @api.get("/search", name="api_search")
    def api_search(q: SearchText = "", page: int = PageNumber, per_page: int = PerPage) -> dict[str, Any]:
        """Trials by NCT id prefix or title words."""
        return read(queries.search, q, queries.PageRequest(page, per_page))

    @api.get("/digests", name="api_digests")
    def api_digests(
        page: int = PageNumber, per_page: int = PerPage, watchlist: WatchlistName = None
    ) -> dict[str, Any]:
        """Digests in the outbox, newest first."""
        return read(queries.digests, queries.PageRequest(page, per_page), watchlist=watchlist or None)

    @api.get("/digests/{digest_id}", name="api_digest")
    def api_digest(digest_id: DigestId) -> dict[str, Any]:
        """One digest as sent: headers, text part and HTML part."""
        return read(queries.digest, digest_id)

    @api.get("/preview", name="api_preview")
    def api_preview(watchlist: PreviewWatchlist = None) -> dict[str, Any]:
        """What the next digest of a watchlist would contain, without sending it."""
        return render_preview(holder.store, watchlist)

    @api.get("/feeds/{watchlist}.atom", name="api_feed", response_class=Response)
    def api_feed(watchlist: str) -> Response:
        """The watchlist's changes as an Atom feed, for people who prefer a feed reader."""
        from trialwatch.digest.feed import atom_feed
        from trialwatch.watchlists import load_watchlists

        try:
            found = load_watchlists().get(watchlist)
        except KeyError as missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from missing
        return Response(atom_feed(holder.store, found), media_type="application/atom+xml")

    @api.get("/health", name="api_health")
    def api_health(
        page: int = PageNumber, per_page: int = Query(20, ge=1, le=queries.MAX_PER_PAGE)
    ) -> dict[str, Any]:
        """Recent sync runs: times, status, registry data timestamp, counts, failures, notes."""
        return read(queries.health, queries.PageRequest(page, per_page))

    # ---- HTML pages ------------------------------------------------------------------------------

    @pages.get("/", name="overview", response_class=HTMLResponse)
    def overview_page(
        request: Request,
        page: int = PageNumber,
        per_page: int = PerPage,
        sort: SortKey = "last_change",
        order: Order = "desc",
        watchlist: WatchlistName = None,
        finding: FindingFilter = None,
        after: Cursor = None,
        before: Cursor = None,
    ) -> HTMLResponse:
        data = overview_data(page, per_page, sort, order, watchlist, finding, after, before)
        if data["total"] == 0 and not watchlist and not finding and not synced_yet():
            # A migrated but empty store: say what to do next, as for one without a schema.
            return render(request, "empty.html", message=NO_SYNC_YET)
        data = within_pages(data)
        nct_ids = list(dict.fromkeys(row["nct_id"] for row in data["items"]))
        with holder.session() as session:
            points = queries.version_points(session, nct_ids)
            token = queries.feed_token(session, watchlist) if watchlist else None
        lanes = charts.status_lanes([charts.Lane(nct_id, points.get(nct_id, [])) for nct_id in nct_ids])
        return render(
            request,
            "overview.html",
            data=data,
            sorts=queries.OVERVIEW_SORTS,
            active="overview",
            lanes=lanes,
            feed_url=feed_url(request, token) if token else None,
            finding_codes=FINDING_CODES,
        )

    @pages.post("/watchlists/{watchlist}/feed-token", name="rotate_feed_token")
    def rotate_feed_token(request: Request, watchlist: str) -> Response:
        """A new capability URL for the watchlist's feed; the old one stops working at once."""
        if not _same_origin(request):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "cross-site form posts are refused")
        with holder.session() as session:
            if watchlist not in {known["name"] for known in queries.watchlist_counts(session)}:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no watchlist named {watchlist!r}")
            queries.rotate_feed_token(session, watchlist)
        return RedirectResponse(
            url(request, "overview", {"watchlist": watchlist}), status_code=status.HTTP_303_SEE_OTHER
        )

    @pages.get("/trials/{nct_id}", name="trial", response_class=HTMLResponse)
    def trial_page(
        request: Request, nct_id: NctId, page: int = PageNumber, version: TimelineVersion = None
    ) -> HTMLResponse:
        trial = within_pages(read(queries.trial, nct_id, page, version))
        with holder.session() as session:
            points = queries.version_points(session, [trial["nct_id"]])[trial["nct_id"]]
        return render(
            request,
            "trial.html",
            trial=trial,
            active="overview",
            enrollment_chart=charts.enrollment_chart(points, trial["nct_id"]),
            dates_chart=charts.dates_chart(points, trial["nct_id"]),
        )

    @pages.get("/search", name="search", response_class=HTMLResponse)
    def search_page(
        request: Request, q: SearchText = "", page: int = PageNumber, per_page: int = PerPage
    ) -> HTMLResponse:
        data = within_pages(read(queries.search, q, queries.PageRequest(page, per_page)))
        return render(request, "search.html", data=data, active="search")

    @pages.get("/digests", name="digests", response_class=HTMLResponse)
    def digests_page(
        request: Request, page: int = PageNumber, per_page: int = PerPage, watchlist: WatchlistName = None
    ) -> HTMLResponse:
        data = read(queries.digests, queries.PageRequest(page, per_page), watchlist=watchlist or None)
        return render(request, "digests.html", data=within_pages(data), active="digests")

    @pages.get("/digests/{digest_id}", name="digest", response_class=HTMLResponse)
    def digest_page(request: Request, digest_id: DigestId) -> HTMLResponse:
        return render(request, "digest.html", digest=read(queries.digest, digest_id), active="digests")

    @pages.get("/digests/{digest_id}/html", name="digest_html")
    def digest_html(digest_id: DigestId) -> Response:
        """The digest's HTML part alone, for a sandboxed iframe: no scripts, no requests, no origin."""
        html = read(queries.digest, digest_id)["html"]
        if html is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"digest {digest_id} has no HTML part")
        return _sandboxed_html(html)

    @pages.get("/preview", name="preview", response_class=HTMLResponse)
    def preview_page(request: Request, watchlist: PreviewWatchlist = None) -> HTMLResponse:
        return render(
            request, "preview.html", preview=render_preview(holder.store, watchlist), active="preview"
        )

    @pages.get("/preview/html", name="preview_html")
    def preview_html(watchlist: Annotated[str, PREVIEW_QUERY]) -> Response:
        """The preview's HTML part alone, served like a sent digest's (sandboxed, no scripts)."""
        html = render_preview(holder.store, watchlist).get("html")
        if html is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no digest preview for watchlist {watchlist!r}")
        return _sandboxed_html(html)

    @pages.get("/health", name="health", response_class=HTMLResponse)
    def health_page(request: Request, page: int = PageNumber) -> HTMLResponse:
        data = within_pages(read(queries.health, queries.PageRequest(page, 20)))
        return render(request, "health.html", data=data, active="health", no_sync_yet=NO_SYNC_YET)

    @pages.get("/openapi.json", name="openapi")
    def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    @pages.get("/static/{path:path}", name="static")
    async def static(path: str, request: Request) -> Response:
        """The stylesheet, behind the same login as the pages that use it."""
        return await static_files.get_response(path, request.scope)

    @pages.get("/severity.css", name="severity_css")
    def severity_stylesheet() -> Response:
        return PlainTextResponse(severity_css(), media_type="text/css")

    # ---- Feed for feed readers: the token in the URL is the credential -------------------------

    def feed_url(request: Request, token: str) -> str:
        base = f"{request.url.scheme}://{request.url.netloc}"
        return base + url(request, "capability_feed", {"token": token})

    @app.get("/feed.atom", name="capability_feed", response_class=Response, include_in_schema=False)
    def capability_feed(token: str = "") -> Response:
        """A watchlist's Atom feed for whoever holds its token; no Airflow login (feed readers have none)."""
        from trialwatch.digest.feed import atom_feed
        from trialwatch.watchlists import load_watchlists

        unauthorised = HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this feed URL needs a valid token; copy the current one from Trial Watch",
        )
        if not token:
            raise unauthorised
        with holder.session() as session:
            name = queries.watchlist_for_token(session, token)
        if name is None:
            raise unauthorised
        found = load_watchlists().get(name)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"watchlist {name!r} is no longer configured")
        return Response(
            atom_feed(holder.store, found),
            media_type="application/atom+xml",
            headers={"Referrer-Policy": "no-referrer", "Cache-Control": "private, max-age=300"},
        )

    app.include_router(api)
    app.include_router(pages)
    return app
