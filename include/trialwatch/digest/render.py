"""Turn change events into what a reader sees: the digest's HTML, plain text, CSV and subject.

The templates only lay out facts prepared here, so the HTML and the text part always say the same
thing. Registry text is data: the HTML environment autoescapes everything and links are built only
from NCT ids (``events.study_url`` / ``compare_url``), never taken from registry text.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import jinja2

from trialwatch.events import (
    CATEGORIES,
    REGISTRY_SITE,
    SEVERITIES,
    SEVERITY_RANK,
    ChangeEvent,
    StoredEvent,
    history_url,
    study_url,
)
from trialwatch.findings import Finding
from trialwatch.records import TrialInfo
from trialwatch.vocabulary import SEVERITY_COLORS, humanise, humanise_text, label, status_label

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
NCT_ID = re.compile(r"^NCT\d{8}$")
MAX_VALUE_CHARS = 400
MAX_DIFF_LINES = 60
MAX_LISTED_ITEMS = 25
# Members of an aggregated event named in the email: enough to recognise the change, never a flood
# (every member is in the CSV attachment and in Trial Watch).
MAX_MEMBERS_SHOWN = 10
# Gmail clips an HTML part over 102 KB; a digest stays under this whatever the number of events.
HTML_BUDGET_BYTES = 100_000
# First try: this many of the most severe changes in full, this many summary rows for the rest.
FULL_CHANGES = 25
SUMMARY_ROWS = 40
MAX_TITLE_CHARS = 90


@dataclass
class ChangeView:
    severity: str
    category: str
    field: str
    old: str
    new: str
    notes: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # Eligibility and other long text: (marker, line) with marker "+", "-" or " ".
    diff_lines: list[tuple[str, str]] = field(default_factory=list)
    # False when a line diff says it better than two squashed paragraphs.
    show_values: bool = True
    # An aggregated event: how many elements, its "221 sites" lead, the first members and the rest.
    count: int = 1
    lead: str = ""
    members: list[str] = field(default_factory=list)
    more_members: int = 0

    @property
    def color(self) -> str:
        return SEVERITY_COLORS[self.severity]


@dataclass
class VersionGroup:
    label: str
    link: str | None
    link_label: str
    changes: list[ChangeView]


@dataclass
class TrialView:
    nct_id: str
    title: str
    status: str
    study_link: str | None
    history_link: str | None
    top_severity: str
    change_count: int
    groups: list[VersionGroup]


@dataclass
class SummaryRow:
    """Changes to one trial in one category, counted instead of shown (the digest's size budget)."""

    nct_id: str
    title: str
    category: str
    count: int
    top_severity: str
    link: str | None


@dataclass
class SectionView:
    name: str
    title: str
    description: str
    trials: list[TrialView]
    severity_counts: list[tuple[str, int]]
    summary: list[SummaryRow] = field(default_factory=list)
    summarised_count: int = 0  # changes in ``summary`` plus those past its last row
    unlisted_rows: int = 0  # (trial, category) pairs past the summary's last row


@dataclass
class HealthView:
    data_timestamp: str | None = None
    last_sync_at: str | None = None
    last_sync_status: str | None = None
    last_success_at: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class FindingLine:
    """One finding as the digest shows it: new since the last digest, or resolved."""

    nct_id: str
    trial_title: str
    title: str
    detail: str
    severity: str
    category: str
    rule: str
    certainty: str
    registry_link: str | None
    trial_watch_link: str | None


@dataclass
class FindingsView:
    new: list[FindingLine] = field(default_factory=list)
    resolved: list[FindingLine] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.new) + len(self.resolved)


@dataclass
class DigestView:
    subject: str
    heading: str
    period_label: str
    sections: list[SectionView]
    severity_counts: list[tuple[str, int]]
    category_counts: list[tuple[str, int]]
    event_count: int
    health: HealthView | None
    generated_at: str
    summarised_count: int = 0
    trial_count: int = 0  # trials with changes, per section (summarised ones included)
    findings: FindingsView | None = None  # new and resolved findings since the last digest

    @property
    def full_count(self) -> int:
        return self.event_count - self.summarised_count


# ---------------------------------------------------------------------------------------------------
# Links and values


def registry_link(url: str | None) -> str | None:
    """The URL if it points at the registry over https, else None (nothing else is ever linked)."""
    if url and url.startswith(REGISTRY_SITE + "/") and not any(c in url for c in "\"'<> \r\n\\"):
        return url
    return None


def _valid_nct(nct_id: str) -> bool:
    return bool(NCT_ID.match(nct_id or ""))


def format_value(value: Any, *, limit: int = MAX_VALUE_CHARS) -> str:
    """A compact one-line rendering of a JSON value from the registry."""
    if value is None or value == "" or value == [] or value == {}:
        text = "(none)"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, dict) and set(value) <= {"date", "type"} and "date" in value:
        text = str(value["date"]) + (f" ({label(value['type'], 'date_type')})" if value.get("type") else "")
    elif isinstance(value, dict) and set(value) <= {"count", "type"} and "count" in value:
        text = str(value["count"]) + (f" ({label(value['type'], 'date_type')})" if value.get("type") else "")
    elif isinstance(value, dict):
        parts = (
            [_place(value)]
            if _looks_like_site(value)
            else [f"{key}: {format_value(item, limit=limit)}" for key, item in value.items()]
        )
        text = ", ".join(part for part in parts if part)
    elif isinstance(value, list | tuple):
        text = "; ".join(format_value(item, limit=limit) for item in value)
    else:
        text = " ".join(str(value).split()) if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _looks_like_site(value: dict[str, Any]) -> bool:
    return "facility" in value or ("city" in value and "country" in value)


def _place(value: dict[str, Any]) -> str:
    parts = [value.get(key) for key in ("facility", "city", "state", "country")]
    text = ", ".join(str(part) for part in parts if part)
    if value.get("status"):
        text += f" [{status_label(str(value['status']))}]"
    return text


def _parse_registry_date(value: Any) -> date | None:
    if isinstance(value, dict):
        value = value.get("date")
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None


def date_slip_days(old: Any, new: Any) -> int | None:
    old_date, new_date = _parse_registry_date(old), _parse_registry_date(new)
    if old_date is None or new_date is None:
        return None
    return (new_date - old_date).days


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("count")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return float(value)
    return None


def percent_change(old: Any, new: Any) -> str | None:
    old_n, new_n = _number(old), _number(new)
    if old_n is None or new_n is None or old_n == 0:
        return None
    change = (new_n - old_n) / old_n * 100
    return f"{change:+.1f}%".replace(".0%", "%")


def _as_items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [format_value(item) for item in value]
    return [format_value(value)]


def line_diff(old: Any, new: Any) -> list[tuple[str, str]]:
    """Changed lines of two texts with one line of context, for eligibility criteria and the like."""
    old_lines = str(old or "").splitlines()
    new_lines = str(new or "").splitlines()
    lines: list[tuple[str, str]] = []
    for line in difflib.unified_diff(old_lines, new_lines, n=1, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            if lines:
                lines.append((" ", "…"))
            continue
        marker, text = line[:1], line[1:]
        if not text.strip() and marker == " ":
            continue
        lines.append((marker, text.rstrip()))
    if len(lines) > MAX_DIFF_LINES:
        hidden = len(lines) - MAX_DIFF_LINES
        lines = lines[:MAX_DIFF_LINES] + [(" ", f"… {hidden} more changed lines in the record")]
    return lines


def _is_long_text(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value or len(value) > MAX_VALUE_CHARS)


def change_view(event: ChangeEvent) -> ChangeView:
    """The reader's view of one change: old → new plus what it means (slip, percent, sites, lines)."""
    extra = event.extra or {}
    old, new = event.old, event.new
    # Registry codes read as words ("Active, not recruiting", "Phase 1"); numbers and dates keep their type.
    old_text, new_text = format_value(humanise(old, event.path)), format_value(humanise(new, event.path))
    view = ChangeView(
        severity=event.severity, category=event.category, field=event.field, old=old_text, new=new_text
    )
    detail = humanise_text(" ".join(str(event.detail or "").split()))
    type_change = extra.get("type")
    if isinstance(type_change, dict) and not isinstance(old, dict) and not isinstance(new, dict):
        # A value and its ESTIMATED/ACTUAL type moved together: "12 (estimated) → 6 (actual)".
        type_old, type_new = type_change.get("old"), type_change.get("new")
        if type_old:
            view.old = f"{view.old} ({label(type_old, 'date_type')})"
        if type_new:
            view.new = f"{view.new} ({label(type_new, 'date_type')})"
        stated_old = label(type_old, "date_type") if type_old else "not stated"
        stated_new = label(type_new, "date_type") if type_new else "not stated"
        detail = detail.replace(f"{stated_old} → {stated_new}", "").strip("; ")

    if event.category == "dates":
        slip = date_slip_days(old, new)
        if slip is not None and "day" not in detail:
            if slip > 0:
                view.notes.append(f"slipped {slip} days")
            elif slip < 0:
                view.notes.append(f"moved earlier by {-slip} days")
    if event.category == "enrollment":
        percent = percent_change(old, new)
        if percent and "%" not in detail:
            view.notes.append(percent)

    added = extra.get("added")
    removed = extra.get("removed")
    either_is_list = isinstance(old, list) or isinstance(new, list)
    if (
        added is None
        and removed is None
        and either_is_list
        and isinstance(old, list | None)
        and isinstance(new, list | None)
    ):
        old_items, new_items = _as_items(old), _as_items(new)
        added = [item for item in new_items if item not in old_items]
        removed = [item for item in old_items if item not in new_items]
    if added or removed:
        view.added = _cap(_as_items(added))
        view.removed = _cap(_as_items(removed))
        if isinstance(old, list) or isinstance(new, list):
            view.old = f"{len(old or [])} listed"
            view.new = f"{len(new or [])} listed"

    if _is_long_text(old) or _is_long_text(new):
        view.diff_lines = line_diff(old, new)
        view.show_values = not view.diff_lines

    if event.count > 1 or event.members:
        detail = _aggregated(view, event, detail)

    # A detail that only repeats old → new ("ESTIMATED → ACTUAL") adds nothing under the values.
    restates_values = detail.replace("→", "->") == f"{view.old} -> {view.new}"
    if detail and detail not in view.notes and not (view.show_values and restates_values):
        view.notes.insert(0, detail)
    return view


def _aggregated(view: ChangeView, event: ChangeEvent, detail: str) -> str:
    """One row for many elements: "221 sites: (none) → Recruiting" and the first members; the detail left."""
    members = [" ".join(str(member).split()) for member in event.members]
    view.count = max(event.count, len(members))
    view.members = members[:MAX_MEMBERS_SHOWN]
    view.more_members = view.count - len(view.members)
    if detail.startswith(f"{event.count} "):
        # The detail is the count with its noun; it leads the row instead of trailing it as a note.
        view.lead, detail = detail, ""
        # Members with values of their own ("14 sites"): each member line carries its old → new.
        if any(
            isinstance(value, str) and value.startswith(f"{event.count} ") for value in (event.old, event.new)
        ):
            view.show_values = False
    return detail


def _cap(items: list[str]) -> list[str]:
    if len(items) > MAX_LISTED_ITEMS:
        return items[:MAX_LISTED_ITEMS] + [f"… and {len(items) - MAX_LISTED_ITEMS} more"]
    return items


# ---------------------------------------------------------------------------------------------------
# Grouping


def _severity_key(severity: str) -> int:
    return -SEVERITY_RANK[severity]


def severity_counts(events: Iterable[ChangeEvent]) -> list[tuple[str, int]]:
    counts = Counter(event.severity for event in events)
    return [(severity, counts[severity]) for severity in SEVERITIES if counts[severity]]


def category_counts(events: Iterable[ChangeEvent]) -> list[tuple[str, int]]:
    counts = Counter(event.category for event in events)
    return [(category, counts[category]) for category in CATEGORIES if counts[category]]


def _group_label(items: Sequence[StoredEvent]) -> tuple[str, str | None, str]:
    item = items[0]
    event = item.event
    version_date = next((it.event.new_version_date for it in items if it.event.new_version_date), None)
    if event.new_version is not None:
        label = f"version {event.new_version}"
        if version_date:
            label += f" ({version_date})"
        if event.old_version is not None:
            label += f", compared with version {event.old_version}"
        return label, registry_link(event.compare_url) if _valid_nct(event.nct_id) else None, "compare"
    when = version_date or (item.detected_at.date().isoformat() if item.detected_at else None)
    label = "current record" + (f" ({when})" if when else "")
    link = registry_link(history_url(event.nct_id)) if _valid_nct(event.nct_id) else None
    return label, link, "record history"


def trial_views(items: Sequence[StoredEvent], trials: dict[str, TrialInfo]) -> list[TrialView]:
    """Trials with their changes grouped per registry version; most severe trials first."""
    by_trial: dict[str, list[StoredEvent]] = {}
    for item in items:
        by_trial.setdefault(item.event.nct_id, []).append(item)
    views: list[TrialView] = []
    for nct_id, trial_items in by_trial.items():
        info = trials.get(nct_id) or TrialInfo(title=str(trial_items[0].event.extra.get("title") or ""))
        groups: dict[tuple[Any, ...], list[StoredEvent]] = {}
        for item in trial_items:
            event = item.event
            if event.new_version is not None:
                key: tuple[Any, ...] = (
                    1,
                    event.new_version,
                    event.old_version if event.old_version is not None else -1,
                )
            else:
                key = (0, event.new_version_date or "", event.new_hash or "")
            groups.setdefault(key, []).append(item)
        group_views = []
        # Newest registry version first: the latest state of the record leads.
        for key in sorted(groups, key=lambda k: (k[0], [-x if isinstance(x, int) else x for x in k[1:]])):
            members = groups[key]
            label, link, link_label = _group_label(members)
            ordered = sorted(
                members,
                key=lambda it: (_severity_key(it.event.severity), CATEGORIES.index(it.event.category)),
            )
            group_views.append(
                VersionGroup(label, link, link_label, [change_view(it.event) for it in ordered])
            )
        top = min((item.event.severity for item in trial_items), key=_severity_key)
        valid = _valid_nct(nct_id)
        views.append(
            TrialView(
                nct_id=nct_id,
                title=" ".join(info.title.split()) or "(untitled record)",
                status=status_label(info.status),
                study_link=registry_link(study_url(nct_id)) if valid else None,
                history_link=registry_link(history_url(nct_id)) if valid else None,
                top_severity=top,
                change_count=len(trial_items),
                groups=group_views,
            )
        )
    views.sort(key=lambda view: (_severity_key(view.top_severity), -view.change_count, view.nct_id))
    return views


def subject_line(title: str, events: Sequence[ChangeEvent], findings: FindingsView | None = None) -> str:
    counts = ", ".join(f"{n} {severity}" for severity, n in severity_counts(events)) or "no changes"
    if findings is not None and findings.count:
        parts = (
            [f"{len(findings.new)} new finding{'' if len(findings.new) == 1 else 's'}"]
            if findings.new
            else []
        )
        if findings.resolved:
            parts.append(f"{len(findings.resolved)} resolved")
        counts = ", ".join(parts) if not events else f"{counts}; {', '.join(parts)}"
    return f"[trialwatch] {' '.join(title.split())}: {counts}"


def _trimmed_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def _finding_line(finding: Finding, trials: dict[str, TrialInfo], ui_url: str | None) -> FindingLine:
    info = trials.get(finding.nct_id)
    return FindingLine(
        nct_id=finding.nct_id,
        trial_title=_trimmed_title(info.title if info else ""),
        title=finding.title,
        detail=" ".join(finding.detail.split()),
        severity=finding.severity,
        category=finding.category,
        rule=finding.rule,
        certainty=finding.certainty,
        registry_link=registry_link(finding.url) if _valid_nct(finding.nct_id) else None,
        trial_watch_link=_trial_watch_link(ui_url, finding.nct_id),
    )


def findings_view(
    new: Sequence[Finding],
    resolved: Sequence[Finding],
    trials: dict[str, TrialInfo],
    ui_url: str | None = None,
) -> FindingsView | None:
    """The digest's findings section (None when there is nothing to say), most severe first."""
    if not new and not resolved:
        return None

    def lines(items: Sequence[Finding]) -> list[FindingLine]:
        ordered = sorted(items, key=lambda f: (_severity_key(f.severity), f.nct_id, f.key))
        return [_finding_line(f, trials, ui_url) for f in ordered]

    return FindingsView(new=lines(new), resolved=lines(resolved))


# ---------------------------------------------------------------------------------------------------
# Templates


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["severity_colors"] = SEVERITY_COLORS
    return env


_HTML_ENV = _environment(autoescape=True)
_TEXT_ENV = _environment(autoescape=False)


def render_html(view: DigestView) -> str:
    return _HTML_ENV.get_template("digest.html.j2").render(digest=view)


def render_text(view: DigestView) -> str:
    return _TEXT_ENV.get_template("digest.txt.j2").render(digest=view)


CSV_COLUMNS = (
    "kind",  # "change", or "finding" (then "field" is the finding's title, "new" its state)
    "nct_id",
    "title",
    "category",
    "field",
    "member",
    "old",
    "new",
    "old_label",
    "new_label",
    "severity",
    "detail",
    "versions",
    "compare_url",
    "rule",
    "certainty",
)
_FORMULA_START = ("=", "+", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    """Cell text that a spreadsheet will not run as a formula (leading = + @ - get a quote)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    if text.startswith(_FORMULA_START) or (text.startswith("-") and _number(text[1:]) is None):
        return "'" + text
    return text


def _label_cell(value: Any, path: str) -> str:
    """A code's words for the CSV's label columns; lists and long texts are left to the code column."""
    if isinstance(value, str):
        return humanise(value, path) if len(value) <= 64 else ""
    if isinstance(value, dict) and set(value) <= {"date", "count", "type"}:
        return format_value(humanise(value, path))
    return ""


def render_csv(
    items: Sequence[StoredEvent],
    trials: dict[str, TrialInfo],
    findings: FindingsView | None = None,
) -> str:
    """One row per event, in the digest's order, then one per new or resolved finding (``kind``
    says which a row is; the csv module quotes as spreadsheets expect).

    An aggregated event ("221 sites") is one row per member, the member's line in ``member`` and the
    event's shared columns repeated, so a spreadsheet can filter and count sites or outcomes.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    for item in items:
        event = item.event
        info = trials.get(event.nct_id) or TrialInfo(title=str(event.extra.get("title") or ""))
        versions = ""
        if event.old_version is not None or event.new_version is not None:
            versions = f"{'' if event.old_version is None else event.old_version}→{'' if event.new_version is None else event.new_version}"
        row = {
            "kind": "change",
            "nct_id": event.nct_id,
            "title": _csv_cell(info.title),
            "category": event.category,
            "field": _csv_cell(event.field),
            "old": _csv_cell(event.old),
            "new": _csv_cell(event.new),
            # The codes stay for machines; the labels are what the email said.
            "old_label": _csv_cell(_label_cell(event.old, event.path)),
            "new_label": _csv_cell(_label_cell(event.new, event.path)),
            "severity": event.severity,
            "detail": _csv_cell(event.detail),
            "versions": versions,
            "compare_url": registry_link(event.compare_url) if _valid_nct(event.nct_id) else "",
        }
        for member in event.members or [""]:
            writer.writerow({**row, "member": _csv_cell(member)})
    for state, lines in (("new", findings.new), ("resolved", findings.resolved)) if findings else ():
        for line in lines:
            writer.writerow(
                {
                    "kind": "finding",
                    "nct_id": line.nct_id,
                    "title": _csv_cell(line.trial_title),
                    "category": line.category,
                    "field": _csv_cell(line.title),
                    "new": state,
                    "severity": line.severity,
                    "detail": _csv_cell(line.detail),
                    "compare_url": line.registry_link or "",
                    "rule": _csv_cell(line.rule),
                    "certainty": line.certainty,
                }
            )
    return buffer.getvalue()


def _trial_watch_link(ui_url: str | None, nct_id: str) -> str | None:
    if not _valid_nct(nct_id):
        return None
    if ui_url and ui_url.startswith(("https://", "http://")) and not any(c in ui_url for c in "\"'<> \r\n\\"):
        return f"{ui_url}/trials/{nct_id}"
    return registry_link(study_url(nct_id))


def _summary_rows(
    items: Sequence[StoredEvent], trials: dict[str, TrialInfo], ui_url: str | None
) -> list[SummaryRow]:
    """Changes per (trial, category), most severe and most numerous first."""
    groups: dict[tuple[str, str], list[ChangeEvent]] = {}
    for item in items:
        groups.setdefault((item.event.nct_id, item.event.category), []).append(item.event)
    rows = []
    for (nct_id, category), events in groups.items():
        info = trials.get(nct_id) or TrialInfo(title=str(events[0].extra.get("title") or ""))
        title = " ".join(info.title.split()) or "(untitled record)"
        if len(title) > MAX_TITLE_CHARS:
            title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
        rows.append(
            SummaryRow(
                nct_id=nct_id,
                title=title,
                category=category,
                count=len(events),
                top_severity=min((e.severity for e in events), key=_severity_key),
                link=_trial_watch_link(ui_url, nct_id),
            )
        )
    rows.sort(key=lambda r: (_severity_key(r.top_severity), -r.count, r.nct_id, CATEGORIES.index(r.category)))
    return rows


def _most_severe_ids(sections: Sequence[tuple[Any, Sequence[StoredEvent]]], limit: int) -> set[int]:
    """Positions (id() of the StoredEvent) of the ``limit`` most severe changes across all sections."""
    ranked = sorted(
        (item for _, items in sections for item in items),
        key=lambda it: (_severity_key(it.event.severity), CATEGORIES.index(it.event.category)),
    )
    return {id(item) for item in ranked[:limit]}


def digest_view(
    *,
    heading: str,
    sections: Sequence[tuple[Any, Sequence[StoredEvent]]],
    trials: dict[str, TrialInfo],
    health: HealthView | None,
    period_label: str,
    generated_at: datetime,
    full_changes: int | None = None,
    summary_rows: int | None = None,
    ui_url: str | None = None,
    findings: FindingsView | None = None,
) -> DigestView:
    """The whole digest: ``sections`` pairs a watchlist (duck-typed: name, title, description) with its events.

    With ``full_changes``, only that many of the most severe changes are shown in full; the others are
    counted per trial and category (at most ``summary_rows`` rows), linked to Trial Watch at ``ui_url``.
    """
    section_views = []
    all_events: list[ChangeEvent] = []
    total = sum(len(items) for _, items in sections)
    shown = (
        _most_severe_ids(sections, full_changes)
        if full_changes is not None and total > full_changes
        else None
    )
    rows_left = summary_rows
    summarised_total = 0
    for watchlist, items in sections:
        events = [item.event for item in items]
        all_events.extend(events)
        full, rest = list(items), []
        if shown is not None:
            full = [item for item in items if id(item) in shown]
            rest = [item for item in items if id(item) not in shown]
        rows = _summary_rows(rest, trials, ui_url) if rest else []
        listed = rows if rows_left is None else rows[: max(rows_left, 0)]
        if rows_left is not None:
            rows_left -= len(listed)
        summarised_total += len(rest)
        section_views.append(
            SectionView(
                name=str(getattr(watchlist, "name", "")),
                title=" ".join(
                    str(getattr(watchlist, "title", "") or getattr(watchlist, "name", "")).split()
                ),
                description=" ".join(str(getattr(watchlist, "description", "") or "").split()),
                trials=trial_views(full, trials),
                severity_counts=severity_counts(events),
                summary=listed,
                summarised_count=len(rest),
                unlisted_rows=len(rows) - len(listed),
            )
        )
    return DigestView(
        subject=subject_line(heading, all_events, findings),
        heading=" ".join(heading.split()),
        period_label=period_label,
        sections=section_views,
        severity_counts=severity_counts(all_events),
        category_counts=category_counts(all_events),
        event_count=len(all_events),
        health=health,
        generated_at=generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summarised_count=summarised_total,
        trial_count=sum(len({item.event.nct_id for item in items}) for _, items in sections),
        findings=findings,
    )


def fitted_digest(
    *,
    heading: str,
    sections: Sequence[tuple[Any, Sequence[StoredEvent]]],
    trials: dict[str, TrialInfo],
    health: HealthView | None,
    period_label: str,
    generated_at: datetime,
    ui_url: str | None = None,
    budget: int = HTML_BUDGET_BYTES,
    findings: FindingsView | None = None,
) -> tuple[DigestView, str]:
    """The digest view and its HTML, within ``budget`` bytes: fewer changes in full until it fits.

    Everything in full when it fits; else the most severe changes in full and the rest summarised,
    halving both until the HTML is small enough (the CSV attachment always keeps every event).
    """
    common: dict[str, Any] = {
        "heading": heading,
        "sections": sections,
        "trials": trials,
        "health": health,
        "period_label": period_label,
        "generated_at": generated_at,
        "ui_url": ui_url,
        "findings": findings,
    }
    total = sum(len(items) for _, items in sections)
    full, rows = (None, None) if total <= FULL_CHANGES else (FULL_CHANGES, SUMMARY_ROWS)
    while True:
        view = digest_view(**common, full_changes=full, summary_rows=rows)
        html = render_html(view)
        if len(html.encode("utf-8")) <= budget or (full == 0 and rows == 0):
            return view, html
        full = FULL_CHANGES if full is None else full // 2
        rows = SUMMARY_ROWS if rows is None else rows // 2


def render_event_list(
    events: list[ChangeEvent],
    fmt: Literal["text", "html"] = "text",
    trials: dict[str, TrialInfo] | None = None,
) -> str:
    """The digest's rendering of a bare list of events (``trialwatch diff --format text|html``)."""
    if fmt not in ("text", "html"):
        raise ValueError(f"unknown format {fmt!r}; expected 'text' or 'html'")
    items = [StoredEvent(event) for event in events]
    nct_ids = sorted({event.nct_id for event in events if event.nct_id})
    heading = "Changes in " + ", ".join(nct_ids) if nct_ids else "Changes"
    view = digest_view(
        heading=heading,
        sections=[(None, items)],
        trials=trials or {},
        health=None,
        period_label="",
        generated_at=datetime.now(UTC),
    )
    if fmt == "html":
        return _HTML_ENV.get_template("events.html.j2").render(digest=view)
    return _TEXT_ENV.get_template("events.txt.j2").render(digest=view)
