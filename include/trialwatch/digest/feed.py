"""An Atom feed (RFC 4287) of a watchlist's change events and findings, for feed readers and the UI.

Same selection as the digest (the watchlist's trials, severity floor, categories, finding codes),
newest first. A finding has an entry when it opened and another when it resolved.
Built with ElementTree so registry text is always escaped as XML character data.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from trialwatch.events import StoredEvent, history_url, study_url
from trialwatch.records import TrialInfo
from trialwatch.store import digests as stored
from trialwatch.store.db import Store
from trialwatch.store.findings import StoredFinding
from trialwatch.watchlists import Watchlist

from .render import _valid_nct, change_view, registry_link
from .selection import feed_findings, select_events

ATOM_NS = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM_NS)


def _tag(name: str) -> str:
    return f"{{{ATOM_NS}}}{name}"


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sub(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    """A child element; characters XML 1.0 cannot carry (registry text may hold them) are dropped."""
    element = ET.SubElement(parent, _tag(name), {k: _NOT_XML.sub("", v) for k, v in attributes.items()})
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    return element


def _timestamp(value: datetime | None) -> str:
    value = value or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _feed_id(name: str) -> str:
    return f"urn:trialwatch:watchlist:{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def atom_feed(store: Store, watchlist: Watchlist, *, limit: int = 200) -> str:
    """The watchlist's newest ``limit`` events as an Atom document (a string with XML declaration)."""
    with store.session() as session:
        high_water = stored.high_water(session)
        items = select_events(
            session, watchlist, after_id=None, up_to_id=high_water, limit=limit, newest_first=True
        )
        findings = feed_findings(session, watchlist, limit=limit)
        ids = {item.event.nct_id for item in items} | {item.finding.nct_id for item in findings}
        trials = stored.trial_info(session, ids)
    return build_feed(watchlist, items, trials, findings)


def _finding_entries(
    feed: ET.Element, watchlist: Watchlist, findings: Sequence[StoredFinding], trials: dict[str, TrialInfo]
) -> None:
    entries = [("opened", item, item.first_seen_at) for item in findings]
    entries += [("resolved", item, item.resolved_at) for item in findings if item.resolved_at is not None]
    entries.sort(key=lambda entry: _timestamp(entry[2]), reverse=True)
    for state, item, when in entries:
        finding = item.finding
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{_feed_id(watchlist.name)}:finding:{item.id}:{state}")
        verb = "new finding" if state == "opened" else "resolved"
        _sub(entry, "title", f"{finding.nct_id}: {verb}: {finding.title} ({finding.severity})"[:300])
        _sub(entry, "updated", _timestamp(when))
        if _valid_nct(finding.nct_id):
            _sub(entry, "link", rel="alternate", type="text/html", href=registry_link(finding.url) or "")
        _sub(entry, "category", term=finding.category, label=finding.category)
        _sub(entry, "category", term=f"severity:{finding.severity}", label=finding.severity)
        _sub(entry, "category", term=f"finding:{finding.code}", label=finding.title)
        info = trials.get(finding.nct_id)
        lines = [
            info.title if info else "",
            finding.detail,
            f"Rule: {finding.rule} · certainty {finding.certainty}",
        ]
        _sub(entry, "summary", "\n".join(line for line in lines if line), type="text")


def build_feed(
    watchlist: Watchlist,
    items: list[StoredEvent],
    trials: dict[str, TrialInfo],
    findings: Sequence[StoredFinding] = (),
) -> str:
    """``items`` (newest first) and ``findings`` as the watchlist's Atom document; ``trials`` names
    their trials."""
    feed = ET.Element(_tag("feed"))
    _sub(feed, "id", _feed_id(watchlist.name))
    _sub(feed, "title", f"trialwatch: {' '.join(str(watchlist.title or watchlist.name).split())}")
    if watchlist.description:
        _sub(feed, "subtitle", " ".join(str(watchlist.description).split()))
    _sub(
        feed,
        "updated",
        _timestamp(
            max(
                [item.detected_at for item in items if item.detected_at]
                + [f.resolved_at or f.first_seen_at for f in findings],
                key=_timestamp,
                default=None,
            )
        ),
    )
    author = _sub(feed, "author")
    _sub(author, "name", "trialwatch")
    _sub(feed, "generator", "trialwatch")

    for item in items:
        event = item.event
        view = change_view(event)
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{_feed_id(watchlist.name)}:event:{item.id}")
        headline = f"{event.nct_id}: {event.field} ({event.severity})"
        if view.show_values:
            headline += f": {view.old} → {view.new}"
        _sub(entry, "title", headline[:300])
        _sub(entry, "updated", _timestamp(item.detected_at))
        if _valid_nct(event.nct_id):
            compare = registry_link(event.compare_url) or registry_link(history_url(event.nct_id))
            _sub(entry, "link", rel="alternate", type="text/html", href=compare or "")
            _sub(
                entry,
                "link",
                rel="related",
                type="text/html",
                href=registry_link(study_url(event.nct_id)) or "",
            )
        _sub(entry, "category", term=event.category, label=event.category)
        _sub(entry, "category", term=f"severity:{event.severity}", label=event.severity)
        info = trials.get(event.nct_id)
        lines = [info.title if info else "", *view.notes]
        lines += [f"added: {added}" for added in view.added] + [
            f"removed: {removed}" for removed in view.removed
        ]
        lines += [f"{marker} {line}" for marker, line in view.diff_lines]
        if event.new_version is not None:
            lines.append(
                f"registry version {event.new_version}"
                + (f" ({event.new_version_date})" if event.new_version_date else "")
            )
        _sub(entry, "summary", "\n".join(line for line in lines if line), type="text")
    _finding_entries(feed, watchlist, findings, trials)
    return ET.tostring(feed, encoding="unicode", xml_declaration=True) + "\n"


def write_feed(store: Store, watchlist: Watchlist, directory: Path) -> Path:
    """Write the watchlist's feed to ``directory/<name>.atom`` (atomically), for a web server to serve."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{watchlist.name}.atom"
    partial = target.with_suffix(".atom.partial")
    partial.write_text(atom_feed(store, watchlist), encoding="utf-8")
    partial.replace(target)
    return target
