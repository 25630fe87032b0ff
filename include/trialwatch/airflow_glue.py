"""The one place the product reads Airflow: connections turned into trialwatch ``Settings``.

Connections (all optional; defaults work out of the box), each winning over its TRIALWATCH_* variable:
- ``ctgov_api`` (http): host = API v2 base URL; extra ``min_interval`` (seconds between requests),
  ``use_history`` (read the registry's version history, default true).
- ``trialwatch_store``: the store (a postgres or sqlite connection, or any with a SQLAlchemy URI).
- ``smtp_default`` (smtp): where digests are sent, as Airflow's SMTP provider reads it.
- one per watchlist channel (``channels:`` in the watchlist): the webhook, Slack or Teams URL in
  ``host`` (or the Slack provider's layout: endpoint in ``host``, token in ``password``); a generic
  webhook's HMAC secret in ``password``. Messages link to Trial Watch under ``[api] base_url``.

The DAG tasks and the Trial Watch UI (in the api-server) both call ``settings()``, so they resolve
the same store. Every setting: docs/configuration.md.

Variable (optional): ``trialwatch_sync_batch_size``, trials per mapped fetch task (default 500).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from trialwatch.settings import CONNECTION_IDS, SMTP_CONN_ID, ConnectionFields, Settings

if TYPE_CHECKING:
    from trialwatch.digest.smtp import SmtpSettings
    from trialwatch.registry.client import CtgovClient
    from trialwatch.store.db import Store

log = logging.getLogger(__name__)

BATCH_SIZE_VARIABLE = "trialwatch_sync_batch_size"
# Mapped fetch tasks that may run at once; each client waits this many times the polite interval,
# so all of them together stay at about one request per second.
FETCH_CONCURRENCY = 2
# A failed digest task is retried after this delay, doubled on each try (Airflow adds up to as much
# again as jitter); the hourly schedule also retries what is still queued.
DIGEST_RETRY_DELAY = timedelta(minutes=5)


def _connection(conn_id: str) -> ConnectionFields | None:
    """An Airflow connection's fields, or None when it is not defined (or Airflow is not installed).

    In a task this asks the task's supervisor; in the api-server it reads the metadata database and
    the secrets backends; anywhere it reads AIRFLOW_CONN_* variables.
    """
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    try:
        conn: Any = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    return ConnectionFields(
        conn_type=conn.conn_type,
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        password=conn.password,
        port=conn.port,
        extra=conn.extra_dejson,
        uri=conn.get_uri(),
    )


def settings() -> Settings:
    """The settings a task or the Trial Watch UI runs with: Airflow connections, then the environment."""
    return Settings.from_env(connections={conn_id: _connection(conn_id) for conn_id in CONNECTION_IDS})


def ctgov_client(config: Settings | None = None, *, tasks_at_once: int = FETCH_CONCURRENCY) -> CtgovClient:
    """A registry client for a task: the configured interval times the tasks that run at once."""
    from trialwatch.registry.client import CtgovClient

    config = config or settings()
    interval = config.min_interval * tasks_at_once
    log.info("registry: %s (%.1f s between requests per task)", config.api_url, interval)
    return CtgovClient(config.api_url, min_interval=interval)


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


def store(config: Settings | None = None, *, readonly: bool = False) -> Store:
    """The trialwatch store, from the ``trialwatch_store`` connection or the environment."""
    from trialwatch.store import Store

    return Store((config or settings()).store_url, readonly=readonly)


def smtp_settings(config: Settings | None = None) -> SmtpSettings:
    """Digest mail settings (STARTTLS and certificate checks on unless turned off)."""
    smtp = (config or settings()).smtp
    if smtp is None:
        raise LookupError(
            f"no mail settings: no Airflow connection {SMTP_CONN_ID!r} and no TRIALWATCH_SMTP_HOST; "
            "set AIRFLOW_CONN_SMTP_DEFAULT "
            '(e.g. \'{"conn_type": "smtp", "host": "mail.example.org", "port": 587, "login": ..., '
            '"password": ..., "extra": {"from_email": "trialwatch@example.org"}}\')'
        )
    return smtp


def _url(host: str, schema: str | None, port: int | None) -> str:
    if "://" in host:
        return host
    return f"{schema or 'https'}://{host}" + (f":{port}" if port else "")


def channel_target(kind: str, conn_id: str):  # type: ignore[no-untyped-def]
    """Where a watchlist channel posts, from its connection; LookupError if the connection is missing."""
    from trialwatch.digest.channels import ChannelTarget

    conn = _connection(conn_id)
    if conn is None:
        raise LookupError(
            f"no Airflow connection {conn_id!r} for the {kind} channel: set AIRFLOW_CONN_{conn_id.upper()} "
            '(e.g. \'{"conn_type": "http", "host": "https://hooks.example.org/...", "password": "..."}\')'
        )
    host, password = (conn.host or "").strip(), conn.password or None
    if kind == "webhook":
        return ChannelTarget(kind, _url(host, conn.schema, conn.port), password)
    # Slack's provider keeps the whole URL in the password, or the endpoint in host and the token there.
    if password and password.startswith(("https://", "http://")):
        return ChannelTarget(kind, password)
    if host and password:
        return ChannelTarget(
            kind, _url(host, conn.schema, conn.port).rstrip("/") + "/" + password.lstrip("/")
        )
    return ChannelTarget(kind, _url(host, conn.schema, conn.port))


def channel_targets(channels) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``kind:connection`` -> ChannelTarget for a watchlist's channels; a missing one is logged and left out
    (its messages stay queued and are reported until the connection exists)."""
    targets = {}
    for channel in channels:
        try:
            targets[channel.ref] = channel_target(channel.kind, channel.connection)
        except (LookupError, ValueError) as exc:
            log.error("%s", exc)
    return targets


def trial_watch_url() -> str | None:
    """Absolute URL of Trial Watch (``[api] base_url`` + ``/trialwatch``), or None when Airflow has none."""
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base}/trialwatch" if base.startswith(("https://", "http://")) else None


# The Asset the sync updates after it recorded changes; digest DAGs are scheduled on it.
CHANGES_ASSET_NAME = "trialwatch_changes"
