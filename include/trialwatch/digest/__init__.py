"""Watchlist digests: selection policy, rendering (HTML, text, CSV, Atom), the outbox and SMTP delivery.

Entry points for the DAGs and the CLI live in ``service``; every query is in ``trialwatch.store``.
``render.render_event_list`` serves ``trialwatch diff --format text|html``. Names are imported on
first use, so rendering a diff does not load the store.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DigestDeliveryError": "service",
    "SendReport": "service",
    "prepare_digests": "service",
    "preview": "service",
    "send_queued": "service",
    "SmtpSettings": "smtp",
    "atom_feed": "feed",
    "render_event_list": "render",
}
__all__ = [
    "DigestDeliveryError",
    "SendReport",
    "SmtpSettings",
    "atom_feed",
    "prepare_digests",
    "preview",
    "render_event_list",
    "send_queued",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
