"""Every trialwatch setting, resolved in one place: the only module that reads the environment.

``Settings.from_env`` is built at the edges and passed down: by the CLI (environment, then its
flags), and by ``trialwatch.airflow_glue`` for the DAG tasks and the Trial Watch UI (which hands in
the Airflow connections it found). For each setting the first source that has it wins:
an Airflow connection (``ctgov_api``, ``trialwatch_store``, ``smtp_default``), then a
``TRIALWATCH_*`` variable, then the default. Outside Airflow the connections are read from their
``AIRFLOW_CONN_*`` variables in Airflow's JSON form. Every setting is listed in docs/configuration.md.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

DEFAULT_API_BASE = "https://clinicaltrials.gov/api/v2"
DEFAULT_SENDER = "trialwatch@localhost"
# Days between full reconciliation syncs (0: every sync is one), and days an incremental sync's
# window reaches back before the last synced data build (records posted late, clocks apart).
DEFAULT_RECONCILE_DAYS = 7
DEFAULT_SYNC_OVERLAP_DAYS = 2
# Registry requests one history backfill run may spend (about 8 minutes at 1 request per second).
DEFAULT_BACKFILL_REQUESTS = 500
PACKAGE_DIR = Path(__file__).resolve().parent

CTGOV_CONN_ID = "ctgov_api"
STORE_CONN_ID = "trialwatch_store"
SMTP_CONN_ID = "smtp_default"
CONNECTION_IDS = (CTGOV_CONN_ID, STORE_CONN_ID, SMTP_CONN_ID)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class SettingError(ValueError):
    """A setting that cannot be used as given; the message names the setting and the value."""


def parse_bool(name: str, value: Any) -> bool:
    """``value`` as a boolean: true/1/yes/on or false/0/no/off; anything else is an error naming ``name``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingError(f"{name} must be true or false (or 1/0, yes/no, on/off), got {value!r}")


class SmtpConfigError(ValueError):
    """The SMTP settings cannot work as given (names the setting and the problem)."""


def _flag(name: str, value: Any) -> bool:
    """A connection extra as a boolean, by the one strict parser; missing or empty means False."""
    if value is None or value == "":
        return False
    try:
        return parse_bool(f"SMTP connection extra {name!r}", value)
    except SettingError as exc:
        raise SmtpConfigError(str(exc)) from None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    login: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False
    verify_certificates: bool = True
    timeout: float = 30.0
    from_email: str = "trialwatch@localhost"

    def __post_init__(self) -> None:
        if not self.host:
            raise SmtpConfigError("SMTP host is empty")
        if not 0 < int(self.port) < 65536:
            raise SmtpConfigError(f"SMTP port {self.port!r} is not a TCP port")
        if self.timeout <= 0:
            raise SmtpConfigError(f"SMTP timeout {self.timeout!r} must be positive")
        if (
            not self.from_email.isascii()
            or any(c in self.from_email for c in "\r\n")
            or "@" not in self.from_email
        ):
            raise SmtpConfigError(f"SMTP from_email {self.from_email!r} is not an address")

    def __repr__(self) -> str:
        # Never print the password into logs.
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, login={self.login!r}, "
            f"starttls={self.starttls}, ssl={self.ssl}, verify_certificates={self.verify_certificates}, "
            f"from_email={self.from_email!r})"
        )

    @classmethod
    def from_airflow_connection_fields(
        cls,
        host: str | None,
        port: int | None,
        login: str | None,
        password: str | None,
        extra: dict[str, Any] | None,
    ) -> SmtpSettings:
        """Settings from an Airflow ``smtp`` connection's fields, reading the extras as its provider does.

        Encryption is always on unless turned off: implicit TLS on port 465 (or when ``disable_ssl``
        is given as false), STARTTLS otherwise, as mail servers on 587/25 expect. The provider turns
        implicit TLS on for every port, which cannot work on a submission port; ``disable_ssl`` and
        ``disable_tls`` set to true still turn each off (strings "false"/"0" mean false here).
        ``ssl_context="none"`` turns certificate verification off.
        """
        extra = dict(extra or {})
        if "disable_ssl" in extra:
            use_ssl = not _flag("disable_ssl", extra["disable_ssl"])
        else:
            use_ssl = int(port or 0) == 465
        use_starttls = not _flag("disable_tls", extra.get("disable_tls", False)) and not use_ssl
        ssl_context = extra.get("ssl_context")
        if ssl_context not in (None, "default", "none"):
            raise SmtpConfigError(
                f"SMTP connection extra 'ssl_context' must be 'default' or 'none', got {ssl_context!r}"
            )
        try:
            timeout = float(extra.get("timeout", 30))
        except (TypeError, ValueError):
            raise SmtpConfigError(
                f"SMTP connection extra 'timeout' must be a number, got {extra.get('timeout')!r}"
            )
        return cls(
            host=host or "",
            port=int(port) if port else (465 if use_ssl else 587),
            login=login or None,
            password=password or None,
            starttls=use_starttls,
            ssl=use_ssl,
            verify_certificates=ssl_context != "none",
            timeout=timeout,
            from_email=extra.get("from_email") or "trialwatch@localhost",
        )

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify_certificates:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _parse_float(name: str, value: Any, *, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingError(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise SettingError(f"{name} must be at least {minimum}, got {value!r}")
    return number


def _parse_count(name: str, value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise SettingError(f"{name} must be a whole number of 0 or more, got {value!r}")
    return int(text)


@dataclass(frozen=True)
class ConnectionFields:
    """The fields of one Airflow connection, without Airflow's classes."""

    conn_type: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Airflow's own URI for the connection, for store URLs of other connection types.
    uri: str | None = None


@dataclass(frozen=True)
class Settings:
    home: Path
    store_url: str
    watchlist_dir: Path
    api_url: str
    min_interval: float
    use_history: bool
    mail_from: str
    smtp: SmtpSettings | None = None
    ui_url: str | None = None
    reconcile_days: int = DEFAULT_RECONCILE_DAYS
    sync_overlap_days: int = DEFAULT_SYNC_OVERLAP_DAYS
    backfill_requests: int = DEFAULT_BACKFILL_REQUESTS

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        connections: Mapping[str, ConnectionFields | None] | None = None,
    ) -> Settings:
        """Resolve every setting. ``connections`` are the Airflow connections found by the caller;
        when None, they are read from ``AIRFLOW_CONN_<ID>`` variables (Airflow's JSON form)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            # An empty variable counts as unset.
            return env.get(name) or None

        if connections is None:
            connections = {conn_id: _connection_from_env(env, conn_id) for conn_id in CONNECTION_IDS}
        api_conn = connections.get(CTGOV_CONN_ID)
        store_conn = connections.get(STORE_CONN_ID)
        smtp_conn = connections.get(SMTP_CONN_ID)
        api_extra = dict(api_conn.extra) if api_conn else {}

        home = Path(get("TRIALWATCH_HOME") or Path.home() / ".trialwatch").expanduser()
        store_url = (
            _store_url(store_conn) or get("TRIALWATCH_STORE_URL") or f"sqlite:///{home / 'trialwatch.db'}"
        )
        watchlist_dir = Path(get("TRIALWATCH_WATCHLISTS") or PACKAGE_DIR.parent / "watchlists")
        api_url = _api_url(api_conn) or get("TRIALWATCH_API_URL") or DEFAULT_API_BASE

        if api_extra.get("min_interval") is not None:
            min_interval = _parse_float("ctgov_api extra min_interval", api_extra["min_interval"])
        else:
            min_interval = _parse_float("TRIALWATCH_MIN_INTERVAL", get("TRIALWATCH_MIN_INTERVAL") or 1.0)
        if api_extra.get("use_history") is not None:
            use_history = parse_bool("ctgov_api extra use_history", api_extra["use_history"])
        else:
            use_history = parse_bool("TRIALWATCH_USE_HISTORY", get("TRIALWATCH_USE_HISTORY") or True)

        backfill_requests = _parse_count(
            "TRIALWATCH_BACKFILL_REQUESTS", get("TRIALWATCH_BACKFILL_REQUESTS") or DEFAULT_BACKFILL_REQUESTS
        )

        smtp_extra = dict(smtp_conn.extra) if smtp_conn else {}
        mail_from = smtp_extra.get("from_email") or get("TRIALWATCH_MAIL_FROM") or DEFAULT_SENDER
        smtp = _smtp(get, smtp_conn, mail_from)
        ui_url = (get("TRIALWATCH_UI_URL") or "").strip().rstrip("/") or None
        if ui_url and not ui_url.startswith(("https://", "http://")):
            raise SettingError(f"TRIALWATCH_UI_URL must be an http(s) URL, got {ui_url!r}")
        reconcile_days = _parse_count(
            "TRIALWATCH_RECONCILE_DAYS", get("TRIALWATCH_RECONCILE_DAYS") or DEFAULT_RECONCILE_DAYS
        )
        sync_overlap_days = _parse_count(
            "TRIALWATCH_SYNC_OVERLAP_DAYS", get("TRIALWATCH_SYNC_OVERLAP_DAYS") or DEFAULT_SYNC_OVERLAP_DAYS
        )
        return cls(
            home=home,
            store_url=store_url,
            watchlist_dir=watchlist_dir,
            api_url=api_url.rstrip("/"),
            min_interval=min_interval,
            use_history=use_history,
            mail_from=mail_from,
            smtp=smtp,
            ui_url=ui_url,
            reconcile_days=reconcile_days,
            sync_overlap_days=sync_overlap_days,
            backfill_requests=backfill_requests,
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced; ``None`` values (flags not given) change nothing."""
        return replace(self, **{name: value for name, value in changes.items() if value is not None})


def _connection_from_env(env: Mapping[str, str], conn_id: str) -> ConnectionFields | None:
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = env.get(name)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingError(f"{name} is not JSON (use Airflow's JSON form): {exc}") from None
    if not isinstance(data, dict):
        raise SettingError(f"{name} must be a JSON object, got {type(data).__name__}")
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra or "{}")
        except json.JSONDecodeError as exc:
            raise SettingError(f"{name}: 'extra' is not JSON: {exc}") from None
    port = data.get("port")
    try:
        port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise SettingError(f"{name}: port must be a number, got {port!r}") from None
    return ConnectionFields(
        conn_type=data.get("conn_type"),
        host=data.get("host"),
        schema=data.get("schema"),
        login=data.get("login"),
        password=data.get("password"),
        port=port,
        extra=extra,
    )


def _store_url(conn: ConnectionFields | None) -> str | None:
    if conn is None:
        return None
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        # Airflow keeps a SQLite connection's file in host (JSON form) or schema (URI form).
        path = conn.host or conn.schema
        return f"sqlite:///{path}" if path else None
    if conn_type in ("postgres", "postgresql"):
        if conn.uri:
            # Airflow writes postgres URIs as "postgres://"; SQLAlchemy wants a dialect name.
            return "postgresql+psycopg2://" + conn.uri.split("://", 1)[1]
        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        query = f"?{urlencode(dict(conn.extra))}" if conn.extra else ""
        return f"postgresql+psycopg2://{auth}{conn.host or ''}{port}/{conn.schema or ''}{query}"
    return conn.uri


def _api_url(conn: ConnectionFields | None) -> str | None:
    if conn is None or not conn.host:
        return None
    host = conn.host
    if "://" not in host:
        scheme = conn.schema or "https"
        host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    return host


def _smtp(get: Any, conn: ConnectionFields | None, mail_from: str) -> SmtpSettings | None:
    if conn is not None:
        smtp = SmtpSettings.from_airflow_connection_fields(
            conn.host, conn.port, conn.login, conn.password, dict(conn.extra)
        )
        return replace(smtp, from_email=mail_from)
    host = get("TRIALWATCH_SMTP_HOST")
    if not host:
        return None
    port = get("TRIALWATCH_SMTP_PORT") or "587"
    if not port.isdigit():
        raise SettingError(f"TRIALWATCH_SMTP_PORT must be a port number, got {port!r}")
    try:
        return SmtpSettings(
            host=host,
            port=int(port),
            login=get("TRIALWATCH_SMTP_LOGIN"),
            password=get("TRIALWATCH_SMTP_PASSWORD"),
            starttls=parse_bool("TRIALWATCH_SMTP_STARTTLS", get("TRIALWATCH_SMTP_STARTTLS") or True),
            ssl=parse_bool("TRIALWATCH_SMTP_SSL", get("TRIALWATCH_SMTP_SSL") or False),
            verify_certificates=parse_bool("TRIALWATCH_SMTP_VERIFY", get("TRIALWATCH_SMTP_VERIFY") or True),
            timeout=_parse_float(
                "TRIALWATCH_SMTP_TIMEOUT", get("TRIALWATCH_SMTP_TIMEOUT") or 30, minimum=0.001
            ),
            from_email=mail_from,
        )
    except SmtpConfigError as exc:
        raise SettingError(f"TRIALWATCH_SMTP_*: {exc}") from None


def environment_for_subprocess() -> dict[str, str]:
    """A copy of this process's environment, for child processes that should see the same settings."""
    return dict(os.environ)


# Defaults for code called without settings (library use and tests); the edges pass Settings down.
def home() -> Path:
    return Settings.from_env().home


def store_url() -> str:
    return Settings.from_env().store_url


def watchlist_dir() -> Path:
    return Settings.from_env().watchlist_dir
