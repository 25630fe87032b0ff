"""Entry point Airflow finds in the plugins folder; the plugin itself lives in the trialwatch_ui package."""

from __future__ import annotations

from trialwatch_ui.plugin import TrialWatchLink, TrialWatchPlugin

__all__ = ["TrialWatchLink", "TrialWatchPlugin"]
