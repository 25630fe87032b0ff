"""Preview of a watchlist's next digest, rendered by the digest service without sending anything.

The digest service is imported on demand: when it is missing or fails, the page says so and the
rest of Trial Watch keeps working.
"""

from __future__ import annotations

import email
import email.policy
import logging
from email.message import EmailMessage
from typing import Any

from trialwatch.store.db import Store

log = logging.getLogger(__name__)


def _parts_of(rendered: Any) -> dict[str, Any]:
    """Subject, text and HTML out of whatever the service returned: a message, its text, or parts."""
    if isinstance(rendered, bytes | str):
        rendered = email.message_from_bytes(
            rendered if isinstance(rendered, bytes) else rendered.encode(), policy=email.policy.default
        )
    if isinstance(rendered, EmailMessage):
        parts: dict[str, Any] = {"subject": str(rendered["Subject"] or ""), "text": None, "html": None}
        for kind, key in (("plain", "text"), ("html", "html")):
            body = rendered.get_body(preferencelist=(kind,))
            if body is not None:
                parts[key] = body.get_content()
        return parts
    if isinstance(rendered, dict):
        return {key: rendered.get(key) for key in ("subject", "text", "html")} | {
            "event_count": rendered.get("event_count")
        }
    return {
        "subject": getattr(rendered, "subject", None),
        "text": getattr(rendered, "text", None),
        "html": getattr(rendered, "html", None),
        "event_count": getattr(rendered, "event_count", None),
    }


def render_preview(store: Store, watchlist: str | None) -> dict[str, Any]:
    """``{"available": bool, "message": str, "watchlist": ..., "subject"/"text"/"html": ...}``."""
    result: dict[str, Any] = {
        "watchlist": watchlist,
        "available": False,
        "subject": None,
        "text": None,
        "html": None,
    }
    try:
        from trialwatch.digest.service import preview
    except ImportError as missing:
        result["message"] = f"Digest preview is not available in this installation ({missing})."
        return result
    result["available"] = True
    if not watchlist:
        result["message"] = "Choose a watchlist to preview its next digest."
        return result
    try:
        rendered = preview(store, watchlist)
    except Exception as error:  # any failure of the renderer is shown, not raised
        log.exception("digest preview for watchlist %r failed", watchlist)
        result["message"] = f"The digest preview for {watchlist!r} failed: {type(error).__name__}: {error}"
        return result
    if rendered is None:
        result["message"] = f"Nothing new for {watchlist!r}: the next digest would be empty."
        return result
    result.update(_parts_of(rendered))
    result["message"] = ""
    return result
