"""``trialwatch digest preview WATCHLIST [--out DIR]`` and ``trialwatch digest send [WATCHLIST]``.

The store is ``trialwatch.settings.store_url()``; watchlists come from ``trialwatch.watchlists``.
SMTP settings for ``send``, first match wins:
- ``TRIALWATCH_SMTP_HOST`` (+ ``_PORT`` 587, ``_LOGIN``, ``_PASSWORD``, ``_STARTTLS`` true,
  ``_SSL`` false, ``_VERIFY`` true, ``_TIMEOUT`` 30, ``_FROM`` trialwatch@localhost);
- ``AIRFLOW_CONN_SMTP_DEFAULT`` in Airflow's JSON form (host, port, login, password, extra), read with
  the Airflow SMTP provider's extras (``disable_tls``, ``disable_ssl``, ``ssl_context``, ``from_email``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .smtp import SmtpConfigError, SmtpSettings, _flag


def smtp_settings_from_env(environ: dict[str, str] | None = None) -> SmtpSettings:
    env = dict(os.environ if environ is None else environ)
    if env.get("TRIALWATCH_SMTP_HOST"):
        try:
            return SmtpSettings(
                host=env["TRIALWATCH_SMTP_HOST"],
                port=int(env.get("TRIALWATCH_SMTP_PORT") or 587),
                login=env.get("TRIALWATCH_SMTP_LOGIN") or None,
                password=env.get("TRIALWATCH_SMTP_PASSWORD") or None,
                starttls=_flag("TRIALWATCH_SMTP_STARTTLS", env.get("TRIALWATCH_SMTP_STARTTLS", "true")),
                ssl=_flag("TRIALWATCH_SMTP_SSL", env.get("TRIALWATCH_SMTP_SSL", "false")),
                verify_certificates=_flag(
                    "TRIALWATCH_SMTP_VERIFY", env.get("TRIALWATCH_SMTP_VERIFY", "true")
                ),
                timeout=float(env.get("TRIALWATCH_SMTP_TIMEOUT") or 30),
                from_email=env.get("TRIALWATCH_SMTP_FROM") or "trialwatch@localhost",
            )
        except ValueError as exc:
            raise SmtpConfigError(f"TRIALWATCH_SMTP_*: {exc}") from exc
    raw = env.get("AIRFLOW_CONN_SMTP_DEFAULT")
    if raw:
        try:
            conn = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SmtpConfigError(
                f"AIRFLOW_CONN_SMTP_DEFAULT is not JSON (use Airflow's JSON form): {exc}"
            ) from exc
        extra = conn.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra or "{}")
        return SmtpSettings.from_airflow_connection_fields(
            conn.get("host"), conn.get("port"), conn.get("login"), conn.get("password"), extra
        )
    raise SmtpConfigError("no SMTP settings: set TRIALWATCH_SMTP_HOST (see `trialwatch digest send --help`)")


def _load_watchlists() -> list[Any]:
    from trialwatch import watchlists

    return list(watchlists.load_watchlists())


def add_arguments(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__
    actions = parser.add_subparsers(dest="digest_action", required=True, metavar="ACTION")
    show = actions.add_parser("preview", help="render the next digest to files without sending")
    show.add_argument("watchlist", help="watchlist name")
    show.add_argument(
        "--out", type=Path, default=Path("digest-preview"), help="directory (default: %(default)s)"
    )
    send = actions.add_parser("send", help="queue due digests and send everything queued")
    send.add_argument("watchlist", nargs="?", help="only this watchlist (default: all)")
    send.add_argument("--max-attempts", type=int, default=10)
    return run


def run(args: argparse.Namespace) -> int:
    from trialwatch import settings
    from trialwatch.store.db import Store

    from .service import DigestDeliveryError, prepare_digests, preview, send_queued

    store = Store(settings.store_url())
    try:
        watchlists = _load_watchlists()
        if args.digest_action == "preview":
            for path in preview(store, watchlists, watchlist=args.watchlist, out_dir=args.out):
                print(path)
            return 0
        smtp = smtp_settings_from_env()
        names = [args.watchlist] if args.watchlist else [w.name for w in watchlists]
        for name in names:
            prepare_digests(store, watchlists, watchlist=name)
        try:
            report = send_queued(store, smtp, watchlist=args.watchlist, max_attempts=args.max_attempts)
        except DigestDeliveryError as exc:
            report = exc.report
            print(f"sent {len(report.sent)}, failed {len(report.failed)}, gave up on {len(report.skipped)}")
            for recipient, error in report.failed:
                print(f"failed: {recipient}: {error}")
            return 1
        print(f"sent {len(report.sent)}, failed 0, gave up on {len(report.skipped)}")
        return 0
    finally:
        store.dispose()
