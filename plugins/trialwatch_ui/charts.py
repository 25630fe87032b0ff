"""Server-rendered inline SVG charts: a trial's enrollment and dates across versions, status lanes.

No script and no network: each chart is one ``<svg role="img">`` with a ``<title>``, a ``<desc>``
that says in words what it draws, and colours from ``trialwatch.vocabulary``. Text and axes use
``currentColor`` and CSS classes, so they follow the page's light or dark scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape
from trialwatch.store.read_models import VersionPoint
from trialwatch.vocabulary import OTHER_STATUS_COLOR, STATUS_COLORS, label, status_label

WIDTH = 720
LANES_WIDTH = 1280
LEFT, RIGHT, TOP = 64, 16, 28


@dataclass(frozen=True)
class Milestone:
    key: str
    words: str
    shape: str  # circle | diamond | square


MILESTONES = (
    Milestone("start", "Start", "circle"),
    Milestone("primary_completion", "Primary completion", "diamond"),
    Milestone("completion", "Completion", "square"),
)


def parse_partial_date(value: str | None) -> date | None:
    """A registry date ("2024", "2024-05" or "2024-05-17") as a day (the first of a month or year)."""
    if not value:
        return None
    parts = value.strip().split("-")
    try:
        numbers = [int(part) for part in parts[:3]]
    except ValueError:
        return None
    while len(numbers) < 3:
        numbers.append(1)
    try:
        return date(*numbers)
    except ValueError:
        return None


def _x(day: date, first: date, last: date, width: float, left: float = LEFT) -> float:
    span = max((last - first).days, 1)
    return left + (day - first).days / span * width


def _attrs(**values: object) -> str:
    return " ".join(f'{key.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for key, v in values.items())


def _svg(
    title: str, description: str, height: int, body: list[str], *, chart_id: str, width: int = WIDTH
) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _year_ticks(first: date, last: date, width: float, height: int, left: float) -> list[str]:
    years = range(first.year + (first.month > 1 or first.day > 1), last.year + 1)
    step = max(1, len(years) // 8)
    out = []
    for year in list(years)[::step]:
        x = _x(date(year, 1, 1), first, last, width, left)
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 6}" y2="{height - 18}"/>')
        out.append(f'<text class="axis" x="{x:.1f}" y="{height - 4}" text-anchor="middle">{year}</text>')
    return out


def _marker(shape: str, x: float, y: float, *, filled: bool, tip: str) -> str:
    fill = "currentColor" if filled else "none"
    style = _attrs(class_="mark", fill=fill, stroke="currentColor", stroke_width=1.6)
    title = f"<title>{escape(tip)}</title>"
    if shape == "diamond":
        points = f"{x:.1f},{y - 6:.1f} {x + 6:.1f},{y:.1f} {x:.1f},{y + 6:.1f} {x - 6:.1f},{y:.1f}"
        return f'<polygon points="{points}" {style}>{title}</polygon>'
    if shape == "square":
        return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" {style}>{title}</rect>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" {style}>{title}</circle>'


def _version_name(point: VersionPoint, index: int) -> str:
    name = f"v{point.registry_version}" if point.registry_version is not None else f"#{index + 1}"
    return f"{name} {point.posted}" if point.posted else name


def enrollment_chart(points: Sequence[VersionPoint], nct_id: str) -> Markup | None:
    """Enrollment per version: filled dots are actual counts, hollow ones estimates."""
    known = [(i, p) for i, p in enumerate(points) if p.enrollment_count is not None]
    if not known:
        return None
    height = 200
    # Room on the right for the last version's label, centred under its point.
    plot_w, plot_h = WIDTH - LEFT - 48, height - TOP - 40
    top_value = max(p.enrollment_count or 0 for _, p in known) or 1
    step = plot_w / max(len(points) - 1, 1)
    body = [
        f'<text class="axis" x="{LEFT - 8}" y="{TOP + 4}" text-anchor="end">{top_value}</text>',
        f'<text class="axis" x="{LEFT - 8}" y="{TOP + plot_h + 4}" text-anchor="end">0</text>',
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>',
    ]
    coords = []
    words = []
    for i, point in known:
        x = LEFT + (i * step if len(points) > 1 else plot_w / 2)
        y = TOP + plot_h - (point.enrollment_count or 0) / top_value * plot_h
        coords.append(f"{x:.1f},{y:.1f}")
        kind = label(point.enrollment_type, "date_type") or "type not stated"
        tip = f"{_version_name(point, i)}: {point.enrollment_count} ({kind})"
        words.append(tip)
        body.append(_marker("circle", x, y, filled=point.enrollment_type == "ACTUAL", tip=tip))
        body.append(
            f'<text class="value" x="{x:.1f}" y="{y - 10:.1f}" text-anchor="middle">{point.enrollment_count}</text>'
        )
    for i, point in enumerate(points):
        x = LEFT + (i * step if len(points) > 1 else plot_w / 2)
        name = escape(_version_name(point, i))
        body.append(f'<text class="axis" x="{x:.1f}" y="{height - 18}" text-anchor="middle">{name}</text>')
    body.insert(0, f'<polyline class="line" fill="none" stroke="currentColor" points="{" ".join(coords)}"/>')
    description = (
        f"Enrollment of {nct_id} in each stored version, oldest first (filled: actual, hollow: "
        "estimated): " + "; ".join(words) + "."
    )
    return _svg(f"Enrollment of {nct_id} across versions", description, height, body, chart_id="enrollment")


def dates_chart(points: Sequence[VersionPoint], nct_id: str) -> Markup | None:
    """One row per version with its start, primary completion and completion dates on a time axis.

    A milestone drawn further right than in the row above it has slipped; the connecting line shows by
    how much.
    """
    rows: list[dict[str, tuple[date, bool, str]]] = []
    for point in points:
        row = {}
        for milestone in MILESTONES:
            raw = getattr(point, f"{milestone.key}_date")
            day = parse_partial_date(raw)
            if day is not None:
                kind = getattr(point, f"{milestone.key}_type")
                row[milestone.key] = (
                    day,
                    kind == "ACTUAL",
                    f"{raw} ({label(kind, 'date_type') or 'type not stated'})",
                )
        rows.append(row)
    days = [value[0] for row in rows for value in row.values()]
    if not days:
        return None
    first, last = min(days), max(days)
    first, last = date(first.year, 1, 1), date(last.year + 1, 1, 1)
    row_h = 26
    height = TOP + row_h * len(rows) + 44
    width = WIDTH - 150 - RIGHT
    left = 150
    body = _year_ticks(first, last, width, height, left)
    words = []
    for milestone in MILESTONES:
        previous: tuple[float, float] | None = None
        for index, row in enumerate(rows):
            if milestone.key not in row:
                continue
            day, actual, text = row[milestone.key]
            x = _x(day, first, last, width, left)
            y = TOP + index * row_h + row_h / 2
            if previous is not None and abs(previous[0] - x) > 0.5:
                body.append(
                    f'<line class="slip" x1="{previous[0]:.1f}" y1="{previous[1]:.1f}" x2="{x:.1f}" y2="{y:.1f}"/>'
                )
            previous = (x, y)
            tip = f"{_version_name(points[index], index)}: {milestone.words} {text}"
            body.append(
                f'<g class="ms-{milestone.key}">'
                + _marker(milestone.shape, x, y, filled=actual, tip=tip)
                + "</g>"
            )
        changes = _milestone_story(rows, milestone)
        if changes:
            words.append(f"{milestone.words}: {changes}")
    for index, point in enumerate(points):
        y = TOP + index * row_h + row_h / 2 + 4
        body.append(
            f'<text class="axis" x="{left - 10}" y="{y:.1f}" text-anchor="end">{escape(_version_name(point, index))}</text>'
        )
    legend_y = 14
    x = 12
    for milestone in MILESTONES:
        body.append(
            f'<g class="ms-{milestone.key}">'
            + _marker(milestone.shape, x, legend_y - 4, filled=True, tip=milestone.words)
            + "</g>"
        )
        body.append(f'<text class="axis" x="{x + 10}" y="{legend_y}">{milestone.words}</text>')
        x += 135
    body.append(f'<text class="axis" x="{x}" y="{legend_y}">filled: actual · hollow: estimated</text>')
    description = (
        f"Start, primary completion and completion dates of {nct_id} in each stored version, oldest "
        "at the top. " + (" ".join(words) if words else "The dates did not change across versions.")
    )
    return _svg(f"Dates of {nct_id} across versions", description, height, body, chart_id="dates")


def _milestone_story(rows: list[dict[str, tuple[date, bool, str]]], milestone: Milestone) -> str:
    values = [row[milestone.key][2] for row in rows if milestone.key in row]
    story = [values[0]] if values else []
    for value in values[1:]:
        if value != story[-1]:
            story.append(value)
    return " → ".join(story) + "." if len(story) > 1 else (f"{story[0]}, unchanged." if story else "")


@dataclass(frozen=True)
class Lane:
    nct_id: str
    points: Sequence[VersionPoint]


def status_lanes(lanes: Sequence[Lane], *, until: date | None = None) -> Markup | None:
    """One lane per trial, coloured by its overall status from each version's posting date on."""
    dated = [
        (lane, [(parse_partial_date(p.posted), p.overall_status) for p in lane.points if p.posted])
        for lane in lanes
    ]
    dated = [(lane, [(d, s) for d, s in spans if d is not None]) for lane, spans in dated]
    dated = [(lane, spans) for lane, spans in dated if spans]
    if not dated:
        return None
    days = [d for _, spans in dated for d, _ in spans]
    first = date(min(days).year, 1, 1)
    end = until or max(days)
    last = date(max(end, max(days)).year + 1, 1, 1)
    left, lane_h = 110, 20
    # Lanes span the page's width: a wider drawing keeps their text at the size of the table's.
    canvas = LANES_WIDTH
    width = canvas - left - RIGHT
    height = TOP + lane_h * len(dated) + 26
    body = _year_ticks(first, last, width, height, left)
    seen: dict[str, str] = {}
    words = []
    for index, (lane, spans) in enumerate(dated):
        y = TOP + index * lane_h
        body.append(
            f'<text class="axis" x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(lane.nct_id)}</text>'
        )
        story = []
        for n, (start, status) in enumerate(spans):
            stop = spans[n + 1][0] if n + 1 < len(spans) else max(end, start)
            x1 = _x(start, first, last, width, left)
            x2 = max(_x(stop, first, last, width, left), x1 + 2)
            colour = STATUS_COLORS.get(status or "", OTHER_STATUS_COLOR)
            words_for = status_label(status)
            seen.setdefault(words_for, colour)
            story.append(f"{words_for} from {start.isoformat()}")
            body.append(
                f'<rect x="{x1:.1f}" y="{y + 3}" width="{x2 - x1:.1f}" height="{lane_h - 6}" fill="{colour}" rx="2">'
                f"<title>{escape(lane.nct_id)}: {escape(words_for)} from {start.isoformat()}</title></rect>"
            )
        words.append(f"{lane.nct_id}: " + ", ".join(story))
    x = left
    for words_for, colour in seen.items():
        body.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}" rx="2"/>')
        body.append(f'<text class="axis" x="{x + 16}" y="16">{escape(words_for)}</text>')
        x += 16 + 7 * len(words_for) + 16
    description = (
        "Overall status of each trial over time, from each version's posting date: " + "; ".join(words) + "."
    )
    return _svg("Status of each trial over time", description, height, body, chart_id="lanes", width=canvas)
