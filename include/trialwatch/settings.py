"""Where trialwatch keeps its files and which services it talks to, with defaults that work offline.

Environment variables win; Airflow connections are read by ``trialwatch.airflow_glue`` and passed in.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_API_BASE = "https://clinicaltrials.gov/api/v2"
PACKAGE_DIR = Path(__file__).resolve().parent


def home() -> Path:
    """TRIALWATCH_HOME, default ~/.trialwatch: the SQLite store and other local state live here."""
    path = Path(os.environ.get("TRIALWATCH_HOME") or Path.home() / ".trialwatch")
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_url() -> str:
    """TRIALWATCH_STORE_URL, default a SQLite file in TRIALWATCH_HOME."""
    return os.environ.get("TRIALWATCH_STORE_URL") or f"sqlite:///{home() / 'trialwatch.db'}"


def watchlist_dir() -> Path:
    """TRIALWATCH_WATCHLISTS, default the project's include/watchlists."""
    configured = os.environ.get("TRIALWATCH_WATCHLISTS")
    if configured:
        return Path(configured)
    return PACKAGE_DIR.parent / "watchlists"


def ui_url() -> str | None:
    """TRIALWATCH_UI_URL: where readers open Trial Watch (e.g. https://airflow.example.org/trialwatch),
    for the digest's links to trials it summarises; unset, the digest links the registry instead."""
    value = (os.environ.get("TRIALWATCH_UI_URL") or "").strip().rstrip("/")
    return value if value.startswith(("https://", "http://")) else None
