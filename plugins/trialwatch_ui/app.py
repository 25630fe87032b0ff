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
from urllib.parse import urlencode

from airflow.api_fastapi.core_api.security import requires_authenticated
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from trialwatch import airflow_glue
from trialwatch.store.db import Store
from trialwatch.watchlists import NAME_RE

from trialwatch_ui import queries
from trialwatch_ui.preview import render_preview

log = logging.getLogger(__name__)

URL_PREFIX = "/trialwatch"
HERE = Path(__file__).resolve().parent

# One dependency object, so tests and benchmarks can override exactly this one.
require_user = requires_authenticated()

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
# The digest HTML is rendered from registry text: it runs with no script, no network, no origin.
DIGEST_HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"
)

SortKey = Literal["last_change", "nct_id", "title", "status", "enrollment", "severity", "watchlist"]
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


class StoreUnavailable(RuntimeError):
    """The store cannot be read (no schema yet, database down)."""


class StoreHolder:
    """Opens the store on first use, so loading the plugin never touches a database."""

    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._opening = threading.Lock()

    @property
    def store(self) -> Store:
        # Routes run in a threadpool: open one engine, not one per concurrent first request.
        with self._opening:
            if self._store is None:
                # The same resolver as the DAG tasks: the trialwatch_store connection, then the environment.
                self._store = airflow_glue.store(readonly=True)
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


def create_app(store: Store | None = None) -> FastAPI:
    """Build the app; ``store`` defaults to the tasks' store (``airflow_glue.store``), opened on first request."""
    holder = StoreHolder(store)
    templates = Jinja2Templates(directory=HERE / "templates")
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
            {"url": lambda name, query=None, **params: url(request, name, query, **params), **context},
            status_code=code,
        )
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    @app.exception_handler(StarletteHTTPException)
    async def login_or_error(request: Request, exc: StarletteHTTPException) -> Response:
        unauthenticated = exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN)
        if _is_api(request):
            return await http_exception_handler(request, exc)
        if unauthenticated:
            return _login_redirect(request)
        return render(request, "error.html", code=exc.status_code, message=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        return render(request, "error.html", code=status.HTTP_422_UNPROCESSABLE_CONTENT, message=problems)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        return render(request, "error.html", code=status.HTTP_503_SERVICE_UNAVAILABLE, message=str(exc))

    def read(query: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            with holder.session() as session:
                return query(session, *args, **kwargs)
        except queries.NotFound as missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from missing

    def overview_data(
        page: int, per_page: int, sort: str, order: str, watchlist: str | None
    ) -> dict[str, Any]:
        with holder.session() as session:
            data = queries.overview(
                session,
                queries.PageRequest(page, per_page),
                sort=sort,
                descending=order == "desc",
                watchlist=watchlist or None,
            )
            data["watchlists"] = queries.watchlist_counts(session)
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
    ) -> dict[str, Any]:
        """Watched trials, one row per (watchlist, trial), sorted and paginated."""
        return overview_data(page, per_page, sort, order, watchlist)

    @api.get("/trials/{nct_id}", name="api_trial")
    def api_trial(nct_id: NctId) -> dict[str, Any]:
        """A trial's current state and its timeline of versions and change events."""
        return read(queries.trial, nct_id)

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
    ) -> HTMLResponse:
        data = overview_data(page, per_page, sort, order, watchlist)
        return render(request, "overview.html", data=data, sorts=queries.OVERVIEW_SORTS, active="overview")

    @pages.get("/trials/{nct_id}", name="trial", response_class=HTMLResponse)
    def trial_page(request: Request, nct_id: NctId) -> HTMLResponse:
        return render(request, "trial.html", trial=read(queries.trial, nct_id), active="overview")

    @pages.get("/search", name="search", response_class=HTMLResponse)
    def search_page(
        request: Request, q: SearchText = "", page: int = PageNumber, per_page: int = PerPage
    ) -> HTMLResponse:
        data = read(queries.search, q, queries.PageRequest(page, per_page))
        return render(request, "search.html", data=data, active="search")

    @pages.get("/digests", name="digests", response_class=HTMLResponse)
    def digests_page(
        request: Request, page: int = PageNumber, per_page: int = PerPage, watchlist: WatchlistName = None
    ) -> HTMLResponse:
        data = read(queries.digests, queries.PageRequest(page, per_page), watchlist=watchlist or None)
        return render(request, "digests.html", data=data, active="digests")

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
        data = read(queries.health, queries.PageRequest(page, 20))
        return render(request, "health.html", data=data, active="health")

    @pages.get("/openapi.json", name="openapi")
    def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    @pages.get("/static/{path:path}", name="static")
    async def static(path: str, request: Request) -> Response:
        """The stylesheet, behind the same login as the pages that use it."""
        return await static_files.get_response(path, request.scope)

    app.include_router(api)
    app.include_router(pages)
    return app
