"""Preview of a watchlist's next digest, rendered by the digest service without sending or marking anything.

The digest service and the watchlists are imported on demand: when they are missing or fail, the
page says so and the rest of Trial Watch keeps working.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from trialwatch.store.db import Store

from trialwatch_ui.queries import message_parts

log = logging.getLogger(__name__)


def render_preview(store: Store, watchlist: str | None) -> dict[str, Any]:
    """What ``watchlist``'s next digest would say, as ``message_parts`` plus a message for the reader.

    Keys: ``available`` (the service could be used), ``watchlist``, ``watchlists`` (configured names),
    ``problems`` (watchlist files that did not load), ``message`` (empty when a preview was rendered),
    ``headers``, ``text``, ``html``.
    """
    result: dict[str, Any] = {
        "available": False,
        "watchlist": watchlist,
        "watchlists": [],
        "problems": [],
        "message": "",
        "headers": {},
        "text": None,
        "html": None,
    }
    try:
        from trialwatch import airflow_glue
        from trialwatch.digest.service import preview
        from trialwatch.watchlists import load_watchlists
    except ImportError as missing:
        result["message"] = f"Digest preview is not available in this installation ({missing})."
        return result
    config = airflow_glue.settings()
    configured = load_watchlists(config.watchlist_dir)
    result["available"] = True
    result["watchlists"] = [w.name for w in configured]
    result["problems"] = [str(error) for error in configured.errors]
    if not watchlist:
        result["message"] = "Choose a watchlist to preview its next digest."
        return result
    if watchlist not in result["watchlists"]:
        known = ", ".join(result["watchlists"]) or "none"
        result["message"] = f"No watchlist named {watchlist!r} is configured (known: {known})."
        return result
    try:
        with tempfile.TemporaryDirectory(prefix="trialwatch-preview-") as out_dir:
            files = preview(
                store,
                list(configured),
                watchlist=watchlist,
                sender=config.mail_from,
                ui_url=config.ui_url,
                out_dir=Path(out_dir),
            )
            eml = next(path for path in files if path.suffix == ".eml")
            result.update(message_parts(eml.read_bytes()))
    except Exception as error:  # any failure of the renderer is shown, not raised
        log.exception("digest preview for watchlist %r failed", watchlist)
        result["message"] = f"The digest preview for {watchlist!r} failed: {type(error).__name__}: {error}"
    return result
