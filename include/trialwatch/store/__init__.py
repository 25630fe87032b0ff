"""The snapshot store: its own SQLAlchemy engine, never Airflow's metadata DB."""

from __future__ import annotations

from trialwatch.store.db import Store

__all__ = ["Store"]
