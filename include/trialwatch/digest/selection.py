"""Which events go to whom: the selection policy over a watchlist, and the health footer.

For each recipient of a watchlist, the events after that recipient's cursor (the highest
``last_event_id`` among the digests it already has for the watchlist) on the watchlist's trials, at or
above ``min_severity``, in its categories. A recipient with no digest yet starts with the events of
the last cadence period (``FIRST_DIGEST_LOOKBACK``) rather than the whole history. The queries are in
``trialwatch.store.digests``; this module decides what to ask for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from trialwatch.diff import LEFT_QUERY_PATH
from trialwatch.events import SEVERITIES, StoredEvent, at_least
from trialwatch.findings import Finding
from trialwatch.store import digests as stored
from trialwatch.store import findings as stored_findings
from trialwatch.store import outbox
from trialwatch.store.digests import SyncRunFacts
from trialwatch.store.findings import StoredFinding
from trialwatch.watchlists import Watchlist

from .render import HealthView

if TYPE_CHECKING:
    from sqlalchemy.orm import Session  # a type only: every query is in trialwatch.store


FIRST_DIGEST_LOOKBACK: dict[str, timedelta] = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def period_key(cadence: str, now: datetime) -> str:
    if cadence == "daily":
        return now.date().isoformat()
    if cadence == "weekly":
        year, week, _ = now.isocalendar()
        return f"{year}-W{week:02d}"
    raise ValueError(f"unknown cadence {cadence!r}; expected 'daily' or 'weekly'")


def period_label(period: str) -> str:
    if period.startswith("immediate-"):
        return "immediate alert"
    return f"{'weekly' if '-W' in period else 'daily'} digest {period}"


def severities_from(minimum: str) -> list[str]:
    if minimum not in SEVERITIES:
        raise ValueError(f"unknown severity {minimum!r}; expected one of {SEVERITIES}")
    return [severity for severity in SEVERITIES if at_least(severity, minimum)]


def check_recipient(watchlist: Watchlist, recipient: str) -> str:
    address = str(recipient).strip()
    if not _ADDRESS.match(address):
        raise ValueError(f"watchlist {watchlist.name!r}: recipient {recipient!r} is not an email address")
    return address


def find_watchlist(watchlists: Sequence[Watchlist], name: str) -> Watchlist:
    for candidate in watchlists:
        if candidate.name == name:
            return candidate
    known = ", ".join(sorted(w.name for w in watchlists)) or "none"
    raise KeyError(f"no watchlist named {name!r} (known: {known})")


def combined_group(target: Watchlist, watchlists: Sequence[Watchlist], recipient: str) -> list[Watchlist]:
    """The watchlists whose digests this recipient gets in one email with ``target``'s."""
    if not target.combine:
        return [target]
    group = [w for w in watchlists if w.combine and w.cadence == target.cadence and recipient in w.recipients]
    return sorted(group, key=lambda w: w.name) or [target]


def concerns(item: StoredEvent, watchlist: str) -> bool:
    """A "left the query" event belongs to the watchlist whose query it left, not to every one watching."""
    return item.event.path != LEFT_QUERY_PATH or (item.event.extra or {}).get("watchlist") == watchlist


def select_events(
    session: Session,
    watchlist: Watchlist,
    *,
    after_id: int | None,
    up_to_id: int,
    since: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[StoredEvent]:
    """The watchlist's events in (after_id, up_to_id], filtered by its severity floor and categories."""
    items = stored.watchlist_events(
        session,
        watchlist.name,
        listed=watchlist.nct_ids,
        severities=severities_from(watchlist.min_severity),
        categories=watchlist.categories,
        after_id=after_id,
        up_to_id=up_to_id,
        since=since,
        limit=limit,
        newest_first=newest_first,
    )
    return [item for item in items if concerns(item, watchlist.name)]


def pending(
    session: Session, watchlist: Watchlist, recipient: str, high_water: int, now: datetime
) -> list[StoredEvent]:
    """The events this recipient has not had from this watchlist, up to ``high_water``."""
    after = outbox.cursor(session, watchlist.name, recipient)
    lookback = FIRST_DIGEST_LOOKBACK.get(watchlist.cadence, timedelta(days=1))
    since = None if after is not None else now - lookback
    return select_events(session, watchlist, after_id=after, up_to_id=high_water, since=since)


def watched_ids(session: Session, watchlists: Sequence[Watchlist]) -> set[str]:
    ids = stored.member_ids(session, [w.name for w in watchlists])
    for w in watchlists:
        ids.update(w.nct_ids)
    return ids


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def health_view(
    last: SyncRunFacts | None,
    success: SyncRunFacts | None,
    watched: set[str] | None = None,
    extra_notes: Sequence[str] = (),
) -> HealthView:
    """The footer: registry data timestamp, last and last successful sync, fetch failures, notes."""
    health = HealthView(notes=[" ".join(str(note).split()) for note in extra_notes if note])
    if last is None:
        health.notes.insert(0, "no sync has been recorded yet")
        return health
    health.data_timestamp = last.data_timestamp
    health.last_sync_at = _when(last.finished_at or last.started_at)
    health.last_sync_status = last.status
    health.last_success_at = _when(success.finished_at) if success else None
    for failure in last.failures:
        nct_id = str((failure or {}).get("nct_id") or "")
        if watched is not None and nct_id and nct_id not in watched:
            continue
        error = " ".join(str((failure or {}).get("error") or "unknown error").split())
        health.failures.append((nct_id or "(whole sync)", error[:300]))
    health.notes = [" ".join(str(note).split()) for note in last.notes] + health.notes
    return health


def pipeline_health(
    session: Session, watched: set[str] | None = None, extra_notes: Sequence[str] = ()
) -> HealthView:
    """``health_view`` of the store's latest sync runs."""
    last, success = stored.latest_sync_runs(session)
    return health_view(last, success, watched, extra_notes)


def pending_findings(
    session: Session, watchlist: Watchlist, recipient: str, finding_high_water: int, now: datetime
) -> tuple[list[Finding], list[Finding]]:
    """(new, resolved): the findings on the watchlist's trials that this recipient has not heard of,
    opened or resolved by sync runs up to ``finding_high_water``, of the watchlist's finding codes,
    categories and severity floor. Without a digest yet, those of the last cadence period."""
    if not watchlist.findings:
        return [], []
    after = outbox.finding_cursor(session, watchlist.name, recipient)
    since = (
        None if after is not None else now - FIRST_DIGEST_LOOKBACK.get(watchlist.cadence, timedelta(days=1))
    )
    opened, resolved = stored_findings.changed_findings(
        session, watched_ids(session, [watchlist]), after_run=after, up_to_run=finding_high_water, since=since
    )

    def wanted(finding: Finding) -> bool:
        return (
            finding.code in watchlist.findings
            and at_least(finding.severity, watchlist.min_severity)
            and (not watchlist.categories or finding.category in watchlist.categories)
        )

    return [s.finding for s in opened if wanted(s.finding)], [
        s.finding for s in resolved if wanted(s.finding)
    ]


def reported_finding(watchlist: Watchlist, finding: Finding) -> bool:
    """Whether the watchlist reports this finding: its codes, severity floor and categories."""
    return (
        finding.code in watchlist.findings
        and at_least(finding.severity, watchlist.min_severity)
        and (not watchlist.categories or finding.category in watchlist.categories)
    )


def feed_findings(session: Session, watchlist: Watchlist, *, limit: int) -> list[StoredFinding]:
    """The watchlist's most recently opened findings that it reports, open or resolved since."""
    if not watchlist.findings:
        return []
    found = stored_findings.latest_findings(session, watched_ids(session, [watchlist]), limit=limit)
    return [item for item in found if reported_finding(watchlist, item.finding)]
