"""The store's read models (``trialwatch.store.read_models``) as plain dicts for the API and templates.

No SQL here: this module only shapes typed records into JSON (ISO dates, a trial's summary fields at
the top level) and parses a stored digest message for display.
"""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from trialwatch.store import feed_tokens
from trialwatch.store import findings as stored_findings
from trialwatch.store import read_models as rm
from trialwatch.store.read_models import (
    DEFAULT_PER_PAGE,
    LAST,
    MAX_PER_PAGE,
    OVERVIEW_SORTS,
    BadCursor,
    NotFound,
    Page,
    PageRequest,
)

__all__ = [
    "DEFAULT_PER_PAGE",
    "LAST",
    "MAX_PER_PAGE",
    "OVERVIEW_SORTS",
    "BadCursor",
    "NotFound",
    "PageRequest",
    "digest",
    "digests",
    "feed_token",
    "health",
    "message_parts",
    "overview",
    "rotate_feed_token",
    "search",
    "trial",
    "version_points",
    "watchlist_counts",
    "watchlist_for_token",
]


def plain(value: Any) -> Any:
    """Dataclasses as dicts (field order kept), datetimes as ISO 8601, recursively through lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _page_info(page: Page[Any]) -> dict[str, Any]:
    return {
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "total_capped": page.total_capped,
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


def watchlist_counts(session: Session) -> list[dict[str, Any]]:
    return [plain(count) for count in rm.watchlist_counts(session)]


def overview(
    session: Session,
    page: PageRequest,
    *,
    sort: str = "last_change",
    descending: bool = True,
    watchlist: str | None = None,
    finding: str | None = None,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """One overview page, with the watchlists and their counts (read once for both)."""
    watched = rm.watchlist_counts(session)
    result = rm.overview(
        session,
        page,
        sort=sort,
        descending=descending,
        watchlist=watchlist,
        finding=finding,
        after=after,
        before=before,
        counts=watched,
    )
    counts = stored_findings.open_finding_counts(session, {row.study.nct_id for row in result.items})
    return {
        "items": [
            {
                "watchlist": row.watchlist,
                "via": row.via,
                **plain(row.study),
                "open_findings": dict(sorted(counts.get(row.study.nct_id, {}).items())),
            }
            for row in result.items
        ],
        "sort": sort,
        "order": "desc" if descending else "asc",
        "watchlist": watchlist,
        "finding": finding,
        "watchlists": [plain(count) for count in watched],
        **_page_info(result),
    }


def search(session: Session, text: str, page: PageRequest) -> dict[str, Any]:
    result = rm.search(session, text, page)
    return {"items": plain(result.items), "q": text.strip(), **_page_info(result)}


def trial(session: Session, nct_id: str, page: int = 1, version: int | None = None) -> dict[str, Any]:
    detail = rm.trial(session, nct_id, page=page, version=version)
    data = plain(detail)
    study = data.pop("study")
    findings = [
        {
            **item.finding.to_dict(),
            "open": item.is_open,
            "first_seen_at": plain(item.first_seen_at),
            "last_seen_at": plain(item.last_seen_at),
            "resolved_at": plain(item.resolved_at),
        }
        for item in stored_findings.trial_findings(session, study["nct_id"])
    ]
    return {**study, **data, "findings": findings}


def digests(session: Session, page: PageRequest, *, watchlist: str | None = None) -> dict[str, Any]:
    result = rm.digests(session, page, watchlist=watchlist)
    return {"items": plain(result.items), "watchlist": watchlist, **_page_info(result)}


def message_parts(raw: bytes | str) -> dict[str, Any]:
    """Headers, plain-text part and HTML part of an RFC 5322 message (absent parts are None)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if data.startswith(b"{"):
        # A webhook, Slack or Teams message (outbox channel rows hold JSON): shown as indented JSON.
        return {
            "headers": {},
            "text": json.dumps(json.loads(data), indent=2, ensure_ascii=False),
            "html": None,
        }
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    parts: dict[str, Any] = {
        "headers": {
            name: str(parsed[name])
            for name in ("From", "To", "Subject", "Date", "Message-ID")
            if parsed[name] is not None
        },
        "text": None,
        "html": None,
    }
    for kind, key in (("plain", "text"), ("html", "html")):
        body = parsed.get_body(preferencelist=(kind,))
        if body is not None:
            parts[key] = body.get_content()
    return parts


def digest(session: Session, digest_id: int) -> dict[str, Any]:
    """One digest as it was sent: its outbox row and the parts of the stored RFC 5322 message."""
    stored = rm.digest(session, digest_id)
    return {**plain(stored.summary), **message_parts(stored.message)}


def health(session: Session, page: PageRequest) -> dict[str, Any]:
    result = rm.health(session, page)
    return {
        "items": plain(result.runs.items),
        "last_ok": plain(result.last_ok),
        "totals": plain(result.totals),
        **_page_info(result.runs),
    }


def version_points(session: Session, nct_ids: list[str]) -> dict[str, list[rm.VersionPoint]]:
    """The charts' figures per trial (typed records: the charts draw them, no JSON needed)."""
    return rm.version_points(session, nct_ids)


feed_token = feed_tokens.feed_token
rotate_feed_token = feed_tokens.rotate_feed_token
watchlist_for_token = feed_tokens.watchlist_for_token
