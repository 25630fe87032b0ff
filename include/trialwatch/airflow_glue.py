"""The one place the product reads Airflow: connections turned into plain trialwatch settings.

Connections (all optional; defaults work out of the box):
- ``ctgov_api`` (http): host = API v2 base URL; extra ``min_interval`` (seconds between requests),
  ``use_history`` (read the registry's version history, default true).
- ``trialwatch_store``: the store's SQLAlchemy URL (e.g. a postgres connection); else
  TRIALWATCH_STORE_URL; else a SQLite file in TRIALWATCH_HOME.
- ``smtp_default`` (smtp): where digests are sent, as Airflow's SMTP provider reads it.

Variable (optional): ``trialwatch_sync_batch_size``, trials per mapped fetch task (default 100).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from trialwatch import settings

log = logging.getLogger(__name__)

CTGOV_CONN_ID = "ctgov_api"
STORE_CONN_ID = "trialwatch_store"
SMTP_CONN_ID = "smtp_default"
BATCH_SIZE_VARIABLE = "trialwatch_sync_batch_size"
# Mapped fetch tasks that may run at once; each client waits this many times the polite interval,
# so all of them together stay at about one request per second.
FETCH_CONCURRENCY = 2


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _api_base_url(conn: Any) -> str:
    if conn is None or not conn.host:
        return os.environ.get("TRIALWATCH_API_URL") or settings.DEFAULT_API_BASE
    host = conn.host
    if "://" not in host:
        scheme = conn.schema or "https"
        host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    return host.rstrip("/")


def ctgov_client():  # type: ignore[no-untyped-def]
    """A registry client configured from the ``ctgov_api`` connection."""
    from trialwatch.registry.client import CtgovClient

    conn = _connection(CTGOV_CONN_ID)
    extra = conn.extra_dejson if conn is not None else {}
    interval = float(extra.get("min_interval", 1.0))
    base_url = _api_base_url(conn)
    log.info("registry: %s (%.1f s between requests per task)", base_url, interval * FETCH_CONCURRENCY)
    return CtgovClient(base_url, min_interval=interval * FETCH_CONCURRENCY)


def sync_batch_size() -> int:
    """Trials per mapped fetch task: the ``trialwatch_sync_batch_size`` Variable, else the pipeline's default.

    Smaller batches spread a sync over more workers; larger ones mean fewer task starts.
    """
    from airflow.sdk import Variable

    from trialwatch.pipeline import DEFAULT_BATCH_SIZE

    raw = Variable.get(BATCH_SIZE_VARIABLE, default=None)
    if raw is None or str(raw).strip() == "":
        return DEFAULT_BATCH_SIZE
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"Airflow variable {BATCH_SIZE_VARIABLE}: {raw!r} is not a whole number of at least 1"
        )
    return value


def use_history() -> bool:
    conn = _connection(CTGOV_CONN_ID)
    return _as_bool((conn.extra_dejson if conn is not None else {}).get("use_history"), True)


def store():  # type: ignore[no-untyped-def]
    """The trialwatch store, from the ``trialwatch_store`` connection or the environment."""
    from trialwatch.store import Store

    conn = _connection(STORE_CONN_ID)
    url = None
    if conn is not None:
        url = conn.get_uri()
        # Airflow writes postgres URIs as "postgres://"; SQLAlchemy wants a dialect name.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg2://" + url[len("postgres://") :]
    return Store(url or settings.store_url())


def smtp_settings():  # type: ignore[no-untyped-def]
    """Digest mail settings from ``smtp_default`` (STARTTLS and certificate checks on unless turned off)."""
    from trialwatch.digest.smtp import SmtpSettings

    conn = _connection(SMTP_CONN_ID)
    if conn is None:
        raise LookupError(
            f"no Airflow connection {SMTP_CONN_ID!r}: set AIRFLOW_CONN_SMTP_DEFAULT "
            '(e.g. \'{"conn_type": "smtp", "host": "mail.example.org", "port": 587, "login": ..., '
            '"password": ..., "extra": {"from_email": "trialwatch@example.org"}}\')'
        )
    return SmtpSettings.from_airflow_connection_fields(
        conn.host, conn.port, conn.login, conn.password, conn.extra_dejson
    )


# The Asset the sync updates after it recorded changes; digest DAGs are scheduled on it.
CHANGES_ASSET_NAME = "trialwatch_changes"


def task_label(nct_ids: list[str]) -> str:
    """A short label for a mapped batch in the Airflow UI."""
    if not nct_ids:
        return "empty batch"
    if len(nct_ids) == 1:
        return nct_ids[0]
    return f"{nct_ids[0]}…{nct_ids[-1]} ({len(nct_ids)} trials)"
