"""The local replay registry: ClinicalTrials.gov's API answered from recorded data, day by day."""

from __future__ import annotations

from trialwatch.replay.server import ReplayRegistry, ReplayServer, serve

__all__ = ["ReplayRegistry", "ReplayServer", "serve"]
