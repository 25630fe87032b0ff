"""Two versions of one study record → the typed change events a reader acts on.

Both versions are reduced to their canonical form first (``records.canonical_form``), so noise,
list order and text formatting never reach the comparison. Modules that are equal are skipped
with one dict comparison; a changed module goes to the handler that knows its meaning (status and
dates, enrollment, sites, eligibility items, outcomes, results) or to the generic walker, which
matches list items by identity and falls back to DeepDiff for lists it has no identity for.
Every event's category, label and severity come from the field catalog.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from deepdiff import DeepDiff

from trialwatch import catalog, records
from trialwatch.catalog import Change, Thresholds
from trialwatch.events import CATEGORIES, SEVERITY_RANK, ChangeEvent

__all__ = [
    "DIFF_STATS",
    "DiffStats",
    "Thresholds",
    "alias_event",
    "diff_if_changed",
    "diff_studies",
    "history_unavailable_note",
    "left_query_event",
    "record_gone_event",
]

SIMILAR_TEXT_RATIO = 0.6  # a removed and an added text this alike are reported as one edited text
RENAME_RATIO = 0.85  # an outcome measure this alike to its old wording is renamed, not reworded
AGGREGATE_MIN = 2  # this many identical changes at different elements become one event
MEMBER_CHARS = 200  # a member line longer than this is cut (the full text stays in the record)
# Pairing removed and added items by similarity costs one text comparison per pair (about 0.3 ms
# for a criterion). Past this many pairs (20 removed × 20 added) the items are reported as removed
# and added: a rewrite that large reads better that way, and it stays fast.
MAX_SIMILARITY_PAIRS = 400


@dataclass
class DiffStats:
    """Counters that show what change detection cost (read by the benchmark and the tests)."""

    diff_runs: int = 0  # full comparisons of two records
    deepdiff_calls: int = 0  # DeepDiff invocations inside them
    hash_only: int = 0  # diff_if_changed calls settled by the content hash alone

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)


DIFF_STATS = DiffStats()


@dataclass(frozen=True)
class _Member:
    """How an event joins others that tell the same change at other elements."""

    label: str  # the element, e.g. a site or an outcome measure
    group: tuple[Any, ...]  # events with equal groups aggregate; a last text ends the detail
    noun: str  # plural, for "221 sites"
    change: str = ""  # "old → new" of this element, listed when the group's values differ
    within: str = ""  # members are fields of this object, stated or dropped whole: its path names the event


def _change_text(old: Any, new: Any) -> str:
    """One element's change for a member line; long texts just say they were edited."""
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > 60:
        return "edited"
    return f"{'—' if old is None else old} → {'—' if new is None else new}"


def _kind(old: Any, new: Any) -> str:
    return "added" if old is None else "removed" if new is None else "changed"


def _plural(label: str) -> str:
    """ "Collaborator" → "collaborators", for "3 collaborators added"."""
    word = label.lower()
    return word if word.endswith("s") else f"{word}s"


class _Events:
    """Collects events, asking the catalog for category, label and severity of each."""

    def __init__(self, thresholds: Thresholds, stage: int | None = None) -> None:
        self.thresholds = thresholds
        self.stage = stage
        self.items: list[ChangeEvent] = []
        self.members: dict[int, _Member] = {}  # id(event) → its element, for aggregation

    def add(
        self,
        path: str,
        old: Any,
        new: Any,
        *,
        kind: str | None = None,
        detail: str = "",
        percent: float | None = None,
        days: int | None = None,
        unknown: bool = False,
        extra: dict[str, Any] | None = None,
        share: float | None = None,
        member: _Member | None = None,
    ) -> ChangeEvent:
        if kind is None:
            kind = "added" if old is None else "removed" if new is None else "changed"
        spec = catalog.lookup(path)
        change = Change(
            old=old,
            new=new,
            kind=kind,
            percent=percent,
            days=days,
            unknown=unknown,
            stage=self.stage,
            share=share,
        )
        event = ChangeEvent(
            category=spec.category,
            field=spec.label,
            old=old,
            new=new,
            severity=catalog.rate(spec, change, self.thresholds),
            path=path,
            detail=detail,
            extra=extra or {},
        )
        self.items.append(event)
        if member is not None:
            self.members[id(event)] = member
        return event

    def fold_type_change(self, type_old: Any, type_new: Any, *, raises: bool = True) -> None:
        """Fold a date's or an enrollment's type change into the value event just added.

        A reader wants "12 → 6, ESTIMATED → ACTUAL" as one change, not two; the event keeps the
        higher of the two severities (unless ``raises`` is false) and the types in ``extra``.
        """
        value_event = self.items[-2]
        type_event = self.items.pop()
        value_event.detail = "; ".join(part for part in (value_event.detail, type_event.detail) if part)
        if raises and SEVERITY_RANK[type_event.severity] > SEVERITY_RANK[value_event.severity]:
            value_event.severity = type_event.severity
        value_event.extra = {**value_event.extra, "type": {"old": type_old, "new": type_new}}


# --- public API ---------------------------------------------------------------------------------------------


def diff_studies(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    thresholds: Thresholds | None = None,
    old_version: int | None = None,
    new_version: int | None = None,
    old_version_date: str | None = None,
    new_version_date: str | None = None,
) -> list[ChangeEvent]:
    """The change events from ``old`` to ``new`` (API v2 study objects), most severe first."""
    old_canonical = records.canonical_form(old)
    new_canonical = records.canonical_form(new)
    return diff_canonical(
        old_canonical,
        new_canonical,
        nct_id=records.nct_id_of(new),
        thresholds=thresholds,
        old_hash=records.hash_canonical(old_canonical),
        new_hash=records.hash_canonical(new_canonical),
        old_version=old_version,
        new_version=new_version,
        old_version_date=old_version_date,
        new_version_date=new_version_date,
    )


def diff_if_changed(
    old: dict[str, Any] | None,
    old_hash: str | None,
    new: dict[str, Any],
    *,
    thresholds: Thresholds | None = None,
    old_version: int | None = None,
    new_version: int | None = None,
    old_version_date: str | None = None,
    new_version_date: str | None = None,
) -> tuple[str, list[ChangeEvent] | None]:
    """(content hash of ``new``, its events) — or (hash, None) when nothing monitored changed.

    An unchanged record costs one canonical form and one hash: the comparison runs only when the
    hash differs from ``old_hash``. A first version (``old`` None) has nothing to compare: [].
    """
    new_canonical = records.canonical_form(new)
    new_hash = records.hash_canonical(new_canonical)
    if old_hash is not None and new_hash == old_hash:
        DIFF_STATS.hash_only += 1
        return new_hash, None
    if old is None:
        return new_hash, []
    old_canonical = records.canonical_form(old)
    if old_canonical == new_canonical:  # stored under a hash of an earlier canonical form
        return new_hash, None
    events = diff_canonical(
        old_canonical,
        new_canonical,
        nct_id=records.nct_id_of(new),
        thresholds=thresholds,
        old_hash=records.hash_canonical(old_canonical),
        new_hash=new_hash,
        old_version=old_version,
        new_version=new_version,
        old_version_date=old_version_date,
        new_version_date=new_version_date,
    )
    return new_hash, events


def record_gone_event(nct_id: str) -> ChangeEvent:
    """The registry answers 404 for a trial we watch."""
    return _record_event(
        "record.gone",
        nct_id,
        nct_id,
        None,
        "the registry no longer returns this record (404 Not Found)",
    )


def alias_event(requested_id: str, canonical_id: str) -> ChangeEvent:
    """A watched NCT number now redirects (301) to another record: the two were merged."""
    return _record_event(
        "record.alias",
        requested_id,
        requested_id,
        canonical_id,
        f"{requested_id} is now an alias of {canonical_id}; the registry redirects to it",
        {"canonical_id": canonical_id},
    )


LEFT_QUERY_PATH = "record.leftQuery"


def left_query_event(nct_id: str, watchlist: str, query_name: str) -> ChangeEvent:
    """A trial stopped matching the query that put it on a watchlist."""
    return _record_event(
        LEFT_QUERY_PATH,
        nct_id,
        watchlist,
        None,
        f"no longer matches the query {query_name} of watchlist {watchlist}",
        {"watchlist": watchlist, "query": query_name},
    )


def history_unavailable_note(nct_id: str, reason: str) -> ChangeEvent:
    """The registry's version history could not be read: changes are diffs of the current record."""
    return _record_event(
        "record.historyUnavailable",
        nct_id,
        None,
        None,
        f"version history unavailable ({reason}); changes compare the stored and the current record",
    )


def _record_event(
    path: str, nct_id: str, old: Any, new: Any, detail: str, extra: dict[str, Any] | None = None
) -> ChangeEvent:
    collector = _Events(Thresholds())
    collector.add(path, old, new, detail=detail, extra=extra, kind="changed")
    event = collector.items[0]
    event.nct_id = nct_id
    return event


# --- the comparison ----------------------------------------------------------------------------------------


def diff_canonical(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    nct_id: str,
    thresholds: Thresholds | None,
    old_hash: str,
    new_hash: str,
    old_version: int | None = None,
    new_version: int | None = None,
    old_version_date: str | None = None,
    new_version_date: str | None = None,
) -> list[ChangeEvent]:
    """``diff_studies`` on canonical forms (``records.canonical_form``) the caller already has."""
    DIFF_STATS.diff_runs += 1
    out = _Events(thresholds or Thresholds(), _stage(old, new))
    for key in _keys(old, new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "protocolSection" and isinstance(before, dict) and isinstance(after, dict):
            _diff_protocol(out, before, after)
        elif key == "resultsSection":
            _diff_results(out, before, after)
        else:
            _diff_value(out, key, before, after)
    events = _aggregate(_fold(out.items), out.members)
    for event in events:
        event.nct_id = nct_id
        event.old_version, event.new_version = old_version, new_version
        event.old_version_date, event.new_version_date = old_version_date, new_version_date
        event.old_hash, event.new_hash = old_hash, new_hash
    events.sort(key=_event_order)
    return events


def _event_order(event: ChangeEvent) -> tuple[Any, ...]:
    return (
        -SEVERITY_RANK[event.severity],
        CATEGORIES.index(event.category),
        event.field,
        event.path,
        event.detail,
        _sortable(event.old),
        _sortable(event.new),
    )


def _sortable(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Keys of both dicts, old's order first (deterministic for a given pair)."""
    return list(old) + [key for key in new if key not in old]


def _stage(old: dict[str, Any], new: dict[str, Any]) -> int | None:
    """The later of the two versions' stages (``catalog.STAGES``): where the trial is when it changed."""
    stages = []
    for record in (old, new):
        status = (record.get("protocolSection") or {}).get("statusModule") or {}
        if isinstance(status, dict):
            stage = catalog.stage_of(status.get("overallStatus"), status.get("lastKnownStatus"))
            if stage is not None:
                stages.append(stage)
    return max(stages) if stages else None


def _aggregate(events: list[ChangeEvent], members: dict[int, _Member]) -> list[ChangeEvent]:
    """The same change at many elements (sites, outcomes) as one event with ``count`` and ``members``."""
    groups: dict[tuple[Any, ...], list[ChangeEvent]] = {}
    for event in events:
        member = members.get(id(event))
        if member is not None:
            groups.setdefault(member.group, []).append(event)
    kept = []
    for event in events:
        member = members.get(id(event))
        if member is None or len(groups[member.group]) < AGGREGATE_MIN:
            kept.append(event)
            continue
        group = groups[member.group]
        if event is not group[0]:
            continue
        count = len(group)
        noun = f"{count} {member.noun}"
        olds = {_sortable(e.old) for e in group}
        news = {_sortable(e.new) for e in group}
        highest = max(group, key=lambda e: SEVERITY_RANK[e.severity]).severity
        uniform = len(olds) == 1 and len(news) == 1
        lines = [
            _cut(
                members[id(e)].label
                if uniform or not members[id(e)].change
                else f"{members[id(e)].label}: {members[id(e)].change}"
            )
            for e in group
        ]
        merged = ChangeEvent(
            category=event.category,
            field=catalog.lookup(member.within).label if member.within else event.field,
            old=event.old if len(olds) == 1 else noun,
            new=event.new if len(news) == 1 else noun,
            severity=highest,
            path=member.within or event.path,
            detail=f"{noun} {member.group[-1]}".strip() if isinstance(member.group[-1], str) else noun,
            extra={"count": count, "members": lines},
        )
        kept.append(merged)
    return kept


def _cut(text: str) -> str:
    return text if len(text) <= MEMBER_CHARS else text[: MEMBER_CHARS - 1] + "…"


def _fold(events: list[ChangeEvent]) -> list[ChangeEvent]:
    """Merge events that tell the same story twice."""
    paths = {event.path for event in events}
    posted = next((e for e in events if e.path == f"{catalog.ST}.resultsFirstPostDateStruct.date"), None)
    section = next((e for e in events if e.path == "resultsSection" and e.old is None), None)
    kept = []
    for event in events:
        if event.path == "hasResults" and f"{catalog.ST}.resultsFirstSubmitDate" in paths:
            continue  # hasResults is computed from the submit date
        if event is section and posted is not None and posted.old is None:
            posted.detail = f"results posted: {section.new}"
            continue
        kept.append(event)
    return kept


def _diff_protocol(out: _Events, old: dict[str, Any], new: dict[str, Any]) -> None:
    for module in _keys(old, new):
        before, after = old.get(module), new.get(module)
        if before == after:
            continue
        path = f"protocolSection.{module}"
        handler = _MODULE_HANDLERS.get(module)
        if handler is not None and isinstance(before or {}, dict) and isinstance(after or {}, dict):
            written = len(out.items)
            try:
                handler(out, path, before or {}, after or {})
                continue
            except (TypeError, AttributeError, KeyError, ValueError):
                # A module of a shape its handler does not expect (a string where a list belongs, a
                # site that is not an object): report it as a plain value change, never crash.
                del out.items[written:]
        _diff_value(out, path, before, after)


def _diff_value(out: _Events, path: str, old: Any, new: Any, detail: str = "") -> None:
    """Any two values at ``path``: recurse into dicts, match lists, report scalars."""
    if old == new:
        return
    if _is_huge_text(old) or _is_huge_text(new):
        _diff_huge_text(out, path, old, new, detail)
        return
    if isinstance(old, (dict, type(None))) and isinstance(new, (dict, type(None))):
        _diff_fields(out, path, old or {}, new or {}, detail=detail)
        return
    if isinstance(old, (list, type(None))) and isinstance(new, (list, type(None))):
        old_list, new_list = old or [], new or []
        items = old_list + new_list
        if all(not isinstance(item, (dict, list)) for item in items):
            _diff_plain_list(out, path, old, new, detail)
            return
        identity = records.UNORDERED_LISTS.get(path)
        if identity and all(isinstance(item, dict) for item in items):
            _diff_records(out, path, old_list, new_list, identity, detail)
            return
        _diff_deep(out, path, old_list, new_list, detail)
        return
    out.add(path, old, new, detail=detail)


def _is_huge_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) > records.HUGE_TEXT_CHARS


def _diff_huge_text(out: _Events, path: str, old: Any, new: Any, detail: str) -> None:
    """A text too long to compare word by word: one event with its size change and both hashes."""
    before, after = _plain_text(old), _plain_text(new)
    added, removed = text_change_size(before, after)
    extra = {
        "old_chars": len(before),
        "new_chars": len(after),
        "added_chars": added,
        "removed_chars": removed,
        "old_sha256": hashlib.sha256(before.encode("utf-8")).hexdigest(),
        "new_sha256": hashlib.sha256(after.encode("utf-8")).hexdigest(),
    }
    label = catalog.lookup(path).label[:1].lower() + catalog.lookup(path).label[1:]
    summary = f"{label} text changed: +{added:,}/−{removed:,} characters (too long to compare word by word)"
    out.add(
        path,
        _size_label(before, extra["old_sha256"]) if old is not None else None,
        _size_label(after, extra["new_sha256"]) if new is not None else None,
        detail=_join(detail, summary),
        extra=extra,
    )


def _plain_text(value: Any) -> str:
    """A text as one string: criteria items (a canonical form of a shorter text) one per line."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return "\n".join(str(item) for items in value.values() for item in items)
    return value if isinstance(value, str) else _sortable(value)


def _size_label(text: str, digest: str) -> str:
    return f"{len(text):,} characters (sha256 {digest[:12]})"


def text_change_size(old: str, new: str) -> tuple[int, int]:
    """(characters added, characters removed): what is left of each text once the common start and
    end are cut off. Exact for one edited stretch, an upper bound for scattered edits; found by
    halving, so it costs a few comparisons of long slices instead of a pass per character.
    """
    limit = min(len(old), len(new))
    low, high = 0, limit  # the common prefix is at least low, at most high characters
    while low < high:
        middle = (low + high + 1) // 2
        if old[:middle] == new[:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    low, high = 0, limit - prefix
    while low < high:
        middle = (low + high + 1) // 2
        if old[len(old) - middle :] == new[len(new) - middle :]:
            low = middle
        else:
            high = middle - 1
    suffix = low
    return len(new) - prefix - suffix, len(old) - prefix - suffix


def _diff_fields(
    out: _Events,
    path: str,
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    skip: Iterable[str] = (),
    detail: str = "",
) -> None:
    skipped = set(skip)
    first = len(out.items)
    for key in _keys(old, new):
        if key not in skipped and old.get(key) != new.get(key):
            _diff_value(out, f"{path}.{key}", old.get(key), new.get(key), detail)
    if bool(old) != bool(new):
        _join_whole_object(out, path, out.items[first:], "added" if new else "removed")


def _join_whole_object(out: _Events, path: str, events: list[ChangeEvent], kind: str) -> None:
    """Fields of an object stated (or dropped) whole aggregate per category and severity.

    A record the registry withheld and then published states its design, eligibility and
    description modules at once: "3 fields added" with the fields as members reads in one row
    where the fields one by one would take a screen. Items of lists keep their own grouping.
    """
    for event in events:
        member = out.members.get(id(event))
        if member is not None and not member.within:
            continue  # a site, outcome or list item: already grouped with its kind
        group = (path, event.category, event.severity, kind)
        change = _change_text(event.old, event.new)
        out.members[id(event)] = _Member(event.field, group, "fields", change, within=path)


def _diff_plain_list(
    out: _Events, path: str, old: list[Any] | None, new: list[Any] | None, detail: str
) -> None:
    """A list of plain values: one event, old and new lists, with what was added and removed."""
    old_count, new_count = Counter(map(_sortable, old or [])), Counter(map(_sortable, new or []))
    added = [item for item in new or [] if _sortable(item) in new_count - old_count]
    removed = [item for item in old or [] if _sortable(item) in old_count - new_count]
    parts = []
    if added:
        parts.append("added " + ", ".join(map(str, added)))
    if removed:
        parts.append("removed " + ", ".join(map(str, removed)))
    out.add(path, old or None, new or None, detail=_join(detail, "; ".join(parts)))


def _diff_records(
    out: _Events,
    path: str,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    identity: tuple[str, ...],
    detail: str = "",
) -> None:
    """A list of records matched by identity: one event per record added or removed, fields of the rest."""
    special = records.ITEM_KEYS.get(path)
    pairs, added, removed = _match(old, new, special or identity)
    noun = _plural(catalog.lookup(path).label)
    for item in removed:
        label = _label(item, identity)
        member = _Member(label, (path, detail, "removed"), noun)
        out.add(path, label, None, detail=_join(detail, "removed"), member=member)
    for item in added:
        label = _label(item, identity)
        member = _Member(label, (path, detail, "added"), noun)
        out.add(path, None, label, detail=_join(detail, "added"), member=member)
    for before, after in pairs:
        _diff_fields(out, path, before, after, detail=_join(detail, _label(after, identity)))


def _diff_deep(out: _Events, path: str, old: list[Any], new: list[Any], detail: str) -> None:
    """Lists of records the catalog has no identity for: DeepDiff, order ignored, one event per leaf."""
    DIFF_STATS.deepdiff_calls += 1
    tree = DeepDiff(old, new, ignore_order=True, view="tree", verbose_level=2)
    for report_type in sorted(tree):
        for level in tree[report_type]:
            steps = [step for step in level.path(output_format="list") if isinstance(step, str)]
            leaf_path = ".".join([path, *steps])
            before = None if type(level.t1).__name__ == "NotPresent" else level.t1
            after = None if type(level.t2).__name__ == "NotPresent" else level.t2
            if isinstance(before, dict):
                before = _summary(before)
            if isinstance(after, dict):
                after = _summary(after)
            out.add(leaf_path, before, after, detail=detail)


def _match(
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    identity: tuple[str, ...] | Callable[[dict[str, Any]], tuple[str, ...]],
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(changed pairs, added, removed) of two record lists matched by identity; equal records drop out.

    ``identity`` is the identifying fields, or a function giving an item's key.
    """
    if callable(identity):
        key_of = identity
    else:
        fields_ = identity

        def key_of(item: dict[str, Any]) -> tuple[str, ...]:
            return records.identity_key(item, fields_)

    old_groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    new_groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in old:
        old_groups.setdefault(key_of(item), []).append(item)
    for item in new:
        new_groups.setdefault(key_of(item), []).append(item)
    pairs, added, removed = [], [], []
    for key in _keys(old_groups, new_groups):
        before, after = old_groups.get(key, []), list(new_groups.get(key, []))
        unmatched = []
        for item in before:
            if item in after:
                after.remove(item)
            else:
                unmatched.append(item)
        common = min(len(unmatched), len(after))
        pairs += zip(unmatched[:common], after[:common])
        removed += unmatched[common:]
        added += after[common:]
    return pairs, added, removed


def _pair_similar(
    removed: list[Any], added: list[Any], text: Callable[[Any], str]
) -> tuple[list[tuple[Any, Any]], list[Any], list[Any]]:
    """Pair removed and added items whose texts are alike: an edit, not a removal plus an addition."""
    if len(removed) * len(added) > MAX_SIMILARITY_PAIRS:
        return [], removed, added
    candidates = []
    for i, before in enumerate(removed):
        for j, after in enumerate(added):
            matcher = difflib.SequenceMatcher(None, text(before), text(after), autojunk=False)
            if matcher.real_quick_ratio() < SIMILAR_TEXT_RATIO or matcher.quick_ratio() < SIMILAR_TEXT_RATIO:
                continue
            ratio = matcher.ratio()
            if ratio >= SIMILAR_TEXT_RATIO:
                candidates.append((-ratio, i, j))
    candidates.sort()
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((removed[i], added[j]))
    rest_removed = [item for i, item in enumerate(removed) if i not in used_old]
    rest_added = [item for j, item in enumerate(added) if j not in used_new]
    return pairs, rest_removed, rest_added


def _label(item: dict[str, Any], identity: tuple[str, ...]) -> str:
    """How a record is named to a reader: its identity fields, else all its plain values."""
    parts = [str(item[name]) for name in identity if item.get(name) not in (None, "")]
    return ", ".join(parts) if parts else _summary(item)


def _summary(item: dict[str, Any]) -> str:
    return ", ".join(
        str(value)
        for value in item.values()
        if value not in (None, "") and not isinstance(value, (dict, list))
    )


def _join(*parts: str) -> str:
    return ": ".join(part for part in parts if part)


# --- status and dates -------------------------------------------------------------------------------------

_DATE_STRUCTS = ("startDateStruct", "primaryCompletionDateStruct", "completionDateStruct")
_PRECISION_NAMES = {1: "year", 2: "month"}


def _diff_status(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    handled = {"overallStatus", "whyStopped", "resultsFirstPostDateStruct", *_DATE_STRUCTS}
    status_old, status_new = old.get("overallStatus"), new.get("overallStatus")
    why_old, why_new = old.get("whyStopped"), new.get("whyStopped")
    if status_old != status_new:
        detail = f"why stopped: {why_new}" if why_new else ""
        out.add(f"{path}.overallStatus", status_old, status_new, detail=detail)
    elif why_old != why_new:
        out.add(f"{path}.whyStopped", why_old, why_new)
    for struct in _DATE_STRUCTS:
        before, after = old.get(struct) or {}, new.get(struct) or {}
        if before != after:
            _diff_date_struct(out, f"{path}.{struct}", before, after)
    posted_old = old.get("resultsFirstPostDateStruct") or {}
    posted_new = new.get("resultsFirstPostDateStruct") or {}
    if posted_old.get("date") != posted_new.get("date"):
        detail = "results posted" if posted_old.get("date") is None else ""
        out.add(
            f"{path}.resultsFirstPostDateStruct.date",
            posted_old.get("date"),
            posted_new.get("date"),
            detail=detail,
        )
    if posted_old.get("date") and posted_new.get("date"):
        _diff_fields(out, f"{path}.resultsFirstPostDateStruct", posted_old, posted_new, skip=("date",))
    _diff_fields(out, path, old, new, skip=handled)


def _diff_date_struct(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    date_old, date_new = old.get("date"), new.get("date")
    if date_old != date_new:
        if date_old and date_new:
            days, detail = date_move(date_old, date_new)
            out.add(f"{path}.date", date_old, date_new, days=days, detail=detail)
        else:  # a date stated or withdrawn: its type is part of that one event
            kind, date_type = ("added", new.get("type")) if date_new else ("removed", old.get("type"))
            out.add(f"{path}.date", date_old, date_new, detail=f"{kind} ({date_type})" if date_type else kind)
            return
    # The registry prints or omits the type of an unchanged old date between fetches (a start date
    # "ACTUAL" one year, without type the next): only a type that moves between two values is news,
    # so a type merely printed with a date also stated more precisely does not raise that event.
    both_typed = bool(old.get("type") and new.get("type"))
    if date_old != date_new or both_typed:
        _diff_type(out, path, old, new, folds=date_old != date_new, raises=both_typed)
    _diff_fields(out, path, old, new, skip=("date", "type"))


def _diff_type(
    out: _Events, path: str, old: dict[str, Any], new: dict[str, Any], *, folds: bool, raises: bool = True
) -> None:
    """The ESTIMATED/ACTUAL type of a date or an enrollment; part of the value's event when both moved."""
    type_old, type_new = old.get("type"), new.get("type")
    if type_old == type_new:
        return
    out.add(
        f"{path}.type", type_old, type_new, detail=f"{type_old or 'not stated'} → {type_new or 'not stated'}"
    )
    if folds:
        out.fold_type_change(type_old, type_new, raises=raises)


def _partial_date(text: str) -> tuple[date, int] | None:
    """(first day, precision 1=year 2=month 3=day) of a registry PartialDate, None if unreadable."""
    parts = str(text).strip().split("-")
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [int(part) for part in parts] + [1] * (3 - len(parts))
        return date(numbers[0], numbers[1], numbers[2]), len(parts)
    except ValueError:
        return None


def _truncate(day: date, precision: int) -> date:
    return date(day.year, day.month if precision >= 2 else 1, day.day if precision >= 3 else 1)


def date_move(old: str, new: str) -> tuple[int | None, str]:
    """(days moved, reader's explanation) between two partial dates (yyyy, yyyy-MM or yyyy-MM-dd).

    Dates of different precision are compared at the coarser one: "2025" → "2025-06-15" is the
    same period stated more precisely (None days), "2025-06" → "2025-08-15" moved about 61 days.
    """
    parsed_old, parsed_new = _partial_date(old), _partial_date(new)
    if parsed_old is None or parsed_new is None:
        return 0, "date not comparable"
    (day_old, precision_old), (day_new, precision_new) = parsed_old, parsed_new
    precision = min(precision_old, precision_new)
    start_old, start_new = _truncate(day_old, precision), _truncate(day_new, precision)
    if start_old == start_new:
        if precision_old == precision_new:
            return None, "same date"
        wording = "more" if precision_new > precision_old else "less"
        return None, f"same period, stated {wording} precisely"
    days = (start_new - start_old).days
    amount = f"{abs(days)} day{'s' if abs(days) != 1 else ''}"
    text = f"slipped {amount}" if days > 0 else f"moved {amount} earlier"
    if precision < 3:
        text = f"{text} (compared by {_PRECISION_NAMES[precision]})"
    return days, text


# --- design and enrollment -----------------------------------------------------------------------------------


def _diff_design(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    before, after = old.get("enrollmentInfo") or {}, new.get("enrollmentInfo") or {}
    if before != after:
        _diff_enrollment(out, f"{path}.enrollmentInfo", before, after)
    _diff_fields(out, path, old, new, skip=("enrollmentInfo",))


def _diff_enrollment(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    count_old, count_new = old.get("count"), new.get("count")
    if count_old != count_new:
        percent = None
        unknown = records.ENROLLMENT_UNKNOWN in (count_old, count_new)
        if count_old is None or count_new is None:
            detail = "added" if count_old is None else "removed"
        elif count_new == records.ENROLLMENT_UNKNOWN:
            detail = f"now unknown (the registry's {records.ENROLLMENT_UNKNOWN})"
        elif count_old == records.ENROLLMENT_UNKNOWN:
            detail = f"was unknown (the registry's {records.ENROLLMENT_UNKNOWN})"
        elif isinstance(count_old, (int, float)) and isinstance(count_new, (int, float)) and count_old != 0:
            percent = (count_new - count_old) / count_old * 100
            detail = f"{percent:+.1f}%"
        else:
            detail = f"from {count_old}"
        out.add(f"{path}.count", count_old, count_new, percent=percent, unknown=unknown, detail=detail)
    _diff_type(out, path, old, new, folds=count_old != count_new)
    _diff_fields(out, path, old, new, skip=("count", "type"))


# --- sites -----------------------------------------------------------------------------------------------


def _diff_contacts_locations(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    before, after = old.get("locations") or [], new.get("locations") or []
    if before != after:
        _diff_sites(out, f"{path}.locations", before, after)
    _diff_fields(out, path, old, new, skip=("locations",))


def _site_label(site: dict[str, Any]) -> str:
    parts = [site.get(name) for name in ("facility", "city", "state", "country")]
    return ", ".join(str(part) for part in parts if part) or _summary(site)


_SITE_TEXTS = ("facility", "city", "state", "zip", "country")


def _skeletal(value: Any) -> Any:
    """``value`` with every text as its skeleton: equal when two values differ only in encoding."""
    if isinstance(value, str):
        return records.text_skeleton(value)
    if isinstance(value, dict):
        return {key: _skeletal(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((_skeletal(item) for item in value), key=_sortable)
    return value


def _same_place(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two site keys (facility, city, zip, country) in one place: same country, and same city or zip."""
    return bool(a[3] == b[3] and ((a[1] and a[1] == b[1]) or (a[2] and a[2] == b[2])))


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _match_sites(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Sites matched by ``records.site_key``, then the rest by facility likeness in one place.

    The second pass pairs a removed and an added site in the same country and city (or postal
    code) whose facility skeletons are at least ``RENAME_RATIO`` alike and carry the same numbers
    ("Site 401" and "Site 402" stay two sites): a postal code stated later or an edited name is the
    same site, not a closure and an opening.
    """
    pairs, added, removed = _match(old, new, records.site_key)
    renamed, rest_added = [], list(added)
    rest_removed = []
    for before in removed:
        key = records.site_key(before)
        best, best_ratio = None, 0.0
        for candidate in rest_added:
            other = records.site_key(candidate)
            if not _same_place(key, other) or _digits(key[0]) != _digits(other[0]):
                continue
            ratio = _similarity(key[0], other[0])
            if ratio > best_ratio:
                best, best_ratio = candidate, ratio
        if best is not None and best_ratio >= RENAME_RATIO:
            renamed.append((before, best))
            rest_added.remove(best)
        else:
            rest_removed.append(before)
    return pairs + renamed, rest_added, rest_removed


def _diff_sites(out: _Events, path: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Sites added, removed, re-statused, renamed or with new contacts; countries gained and lost.

    Sites are matched by a key that survives the registry's re-encodings, so a name that only
    changed encoding is no event. A site's contacts that change along with its status are part of
    the status event. Equal changes at many sites aggregate into one event (``_aggregate``).
    """
    pairs, added, removed = _match_sites(old, new)
    for site in removed:
        label = _site_label(site)
        group = (path, "removed", "removed")
        out.add(
            path,
            label,
            None,
            detail="site removed",
            extra={"site": label},
            member=_Member(label, group, "sites"),
        )
    for site in added:
        label = _site_label(site)
        status = f" ({site['status']})" if site.get("status") else ""
        group = (path, "added", f"added{status}")
        out.add(
            path,
            None,
            label,
            detail=f"site added{status}",
            extra={"site": label},
            member=_Member(label, group, "sites"),
        )
    for before, after in pairs:
        label = _site_label(after)
        contacts_changed = _skeletal(before.get("contacts")) != _skeletal(after.get("contacts"))
        status_old, status_new = before.get("status"), after.get("status")
        if status_old != status_new:
            detail = f"{label}; contacts updated" if contacts_changed else label
            group = (f"{path}.status", status_old, status_new, "")
            out.add(
                f"{path}.status",
                status_old,
                status_new,
                detail=detail,
                extra={"site": label},
                member=_Member(label, group, "sites"),
            )
        elif contacts_changed:
            out.add(
                f"{path}.contacts",
                [_summary(c) for c in before.get("contacts") or []] or None,
                [_summary(c) for c in after.get("contacts") or []] or None,
                detail=label,
                extra={"site": label},
                member=_Member(label, (f"{path}.contacts", "with contacts changed"), "sites"),
            )
        for key in _keys(before, after):
            if key in ("status", "contacts") or before.get(key) == after.get(key):
                continue
            if key in _SITE_TEXTS and _skeletal(before.get(key)) == _skeletal(after.get(key)):
                continue  # the same name in another encoding, case or punctuation
            value_old, value_new = before.get(key), after.get(key)
            if isinstance(value_old, (dict, list)) or isinstance(value_new, (dict, list)):
                _diff_value(out, f"{path}.{key}", value_old, value_new, label)
                continue
            kind = _kind(value_old, value_new)
            what = catalog.lookup(f"{path}.{key}").label.lower().removeprefix("site ")
            group = (f"{path}.{key}", kind, f"with {what} {kind}")
            change = _change_text(value_old, value_new)
            out.add(
                f"{path}.{key}",
                value_old,
                value_new,
                detail=label,
                member=_Member(label, group, "sites", change),
            )
    countries_old = {records.text_skeleton(site.get("country")): site.get("country") for site in old}
    countries_new = {records.text_skeleton(site.get("country")): site.get("country") for site in new}
    for key in sorted(countries_new.keys() - countries_old.keys() - {""}):
        out.add(f"{path}.country", None, countries_new[key], detail="country added (first site there)")
    for key in sorted(countries_old.keys() - countries_new.keys() - {""}):
        out.add(f"{path}.country", countries_old[key], None, detail="country removed (no site left there)")


# --- eligibility ------------------------------------------------------------------------------------------


def _diff_eligibility(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    before, after = old.get("eligibilityCriteria"), new.get("eligibilityCriteria")
    if before != after:
        if isinstance(before, (dict, type(None))) and isinstance(after, (dict, type(None))):
            _diff_criteria(out, f"{path}.eligibilityCriteria", before or {}, after or {})
        else:
            _diff_value(out, f"{path}.eligibilityCriteria", before, after)
    _diff_fields(out, path, old, new, skip=("eligibilityCriteria",))


def _diff_criteria(out: _Events, path: str, old: dict[str, list[str]], new: dict[str, list[str]]) -> None:
    """Criteria item by item per section: items added, removed, and edited (paired by similarity).

    A text rewritten beyond ``catalog.ELIGIBILITY_REWRITE_SHARE`` is one event, its item changes the
    members: a reader needs "rewritten", not forty rows.
    """
    share = _changed_share(old, new)
    if share >= catalog.ELIGIBILITY_REWRITE_SHARE:
        _criteria_rewritten(out, path, old, new, share)
        return
    for section in _keys(old, new):
        items_old, items_new = old.get(section, []), new.get(section, [])
        if items_old == items_new:
            continue
        removed = list((Counter(items_old) - Counter(items_new)).elements())
        added = list((Counter(items_new) - Counter(items_old)).elements())
        removed, added = _drop_relisted(removed, added)
        edited, removed, added = _pair_similar(removed, added, str)
        section_path = f"{path}.{section}"
        extra = {"section": section}
        for before, after in edited:
            out.add(section_path, before, after, detail="criterion changed", extra=extra)
        for item in removed:
            out.add(section_path, item, None, detail="criterion removed", extra=extra)
        for item in added:
            out.add(section_path, None, item, detail="criterion added", extra=extra)


# What closes a list item: "...or higher." becomes "...or higher;" when items are appended after it.
_ITEM_CLOSERS = " .;,"


def _drop_relisted(removed: list[str], added: list[str]) -> tuple[list[str], list[str]]:
    """Removed and added criteria that differ only in their closing punctuation: the same criterion."""
    waiting: dict[str, list[str]] = {}
    for item in added:
        waiting.setdefault(item.rstrip(_ITEM_CLOSERS), []).append(item)
    kept = []
    for item in removed:
        twins = waiting.get(item.rstrip(_ITEM_CLOSERS))
        if twins:
            twins.pop()
        else:
            kept.append(item)
    return kept, [item for items in waiting.values() for item in items]


def _criteria_words(criteria: dict[str, list[str]]) -> list[str]:
    return [word for section in sorted(criteria) for item in criteria[section] for word in item.split()]


def _changed_share(old: dict[str, list[str]], new: dict[str, list[str]]) -> float:
    """The share (0..1) of the criteria's words that changed, by a word-level difflib ratio."""
    words_old, words_new = _criteria_words(old), _criteria_words(new)
    if not words_old and not words_new:
        return 0.0
    return 1.0 - difflib.SequenceMatcher(None, words_old, words_new, autojunk=False).ratio()


def _criteria_rewritten(
    out: _Events, path: str, old: dict[str, list[str]], new: dict[str, list[str]], share: float
) -> None:
    lines = []
    for section in _keys(old, new):
        items_old, items_new = old.get(section, []), new.get(section, [])
        lines += [f"{section} removed: {item}" for item in items_old if item not in items_new]
        lines += [f"{section} added: {item}" for item in items_new if item not in items_old]
    size_old = sum(len(item) for items in old.values() for item in items)
    size_new = sum(len(item) for items in new.values() for item in items)
    event = out.add(
        path,
        f"{size_old} characters",
        f"{size_new} characters",
        kind="rewritten",
        share=share,
        detail=f"rewritten: {share:.0%} of the text changed",
    )
    event.extra = {"count": len(lines), "members": [_cut(line) for line in lines], "share": round(share, 3)}


# --- outcomes --------------------------------------------------------------------------------------------


def _diff_outcomes(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in _keys(old, new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        list_path = f"{path}.{key}"
        if not all(isinstance(item, dict) for item in (before or []) + (after or [])) or not isinstance(
            before or [], list
        ):
            _diff_value(out, list_path, before, after)
            continue
        pairs, added, removed = _match(before or [], after or [], ("measure",))
        reworded, removed, added = _pair_similar(removed, added, lambda o: o.get("measure") or "")
        for item in removed:
            measure = item.get("measure") or ""
            member = _Member(measure, (list_path, "removed"), "outcomes")
            out.add(list_path, measure, None, detail="outcome removed", member=member)
        for item in added:
            measure = item.get("measure") or ""
            time_frame = f" (time frame: {item['timeFrame']})" if item.get("timeFrame") else ""
            member = _Member(f"{measure}{time_frame}", (list_path, "added"), "outcomes")
            out.add(list_path, None, measure, detail=f"outcome added{time_frame}", member=member)
        for item_old, item_new in reworded:
            measure_old, measure_new = item_old.get("measure") or "", item_new.get("measure") or ""
            renamed = _similarity(measure_old, measure_new) >= RENAME_RATIO
            out.add(
                f"{list_path}.measure",
                measure_old,
                measure_new,
                kind="renamed" if renamed else "changed",
                detail="measure renamed" if renamed else "measure reworded",
            )
            _diff_outcome_fields(out, list_path, item_old, item_new, skip=("measure",))
        for item_old, item_new in pairs:
            _diff_outcome_fields(out, list_path, item_old, item_new)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _diff_outcome_fields(
    out: _Events, path: str, old: dict[str, Any], new: dict[str, Any], skip: tuple[str, ...] = ()
) -> None:
    """Fields of one outcome; the same edit across outcomes ("59 → 58 months") aggregates."""
    measure = new.get("measure") or ""
    for key in _keys(old, new):
        before, after = old.get(key), new.get(key)
        if key in skip or before == after:
            continue
        if key == "measure":  # matched by its folded text: only case or spacing changed
            out.add(f"{path}.measure", before, after, kind="renamed", detail="measure renamed")
        elif isinstance(before, (str, type(None))) and isinstance(after, (str, type(None))):
            field_path = f"{path}.{key}"
            group = (field_path, _kind(before, after), "")
            member = _Member(measure, group, "outcomes", _change_text(before, after))
            out.add(field_path, before, after, detail=measure, member=member)
        else:
            _diff_value(out, f"{path}.{key}", before, after, measure)


# --- arms and interventions -------------------------------------------------------------------------------

_ARM_LISTS = {"armGroups": ("label", "interventionNames"), "interventions": ("name", "armGroupLabels")}


def _diff_arms(out: _Events, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Arms and interventions matched by label, then by likeness: an edited label is a rename (info).

    A rename also rewrites the labels other items point to; those follow it silently.
    """
    renames: dict[str, str] = {}
    matched: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for key, (label_key, _) in _ARM_LISTS.items():
        list_path = f"{path}.{key}"
        before, after = old.get(key) or [], new.get(key) or []
        if before == after:
            continue
        identity = records.UNORDERED_LISTS[list_path]
        pairs, added, removed = _match(before, after, identity)
        renamed, removed, added = _pair_similar(
            removed, added, lambda item, k=label_key: str(item.get(k) or "")
        )
        noun = _plural(catalog.lookup(list_path).label)  # items of one list added together: one event
        for item in removed:
            label = _label(item, identity)
            out.add(
                list_path, label, None, detail="removed", member=_Member(label, (list_path, "removed"), noun)
            )
        for item in added:
            label = _label(item, identity)
            out.add(list_path, None, label, detail="added", member=_Member(label, (list_path, "added"), noun))
        for item_old, item_new in renamed:
            label_old, label_new = item_old.get(label_key), item_new.get(label_key)
            renames[str(label_old)] = str(label_new)
            out.add(f"{list_path}.{label_key}", label_old, label_new, kind="renamed", detail="renamed")
        matched[key] = pairs + renamed
    for key, (label_key, refs_key) in _ARM_LISTS.items():
        list_path = f"{path}.{key}"
        for item_old, item_new in matched.get(key, []):
            refs_old = sorted(_renamed_ref(ref, renames) for ref in item_old.get(refs_key) or [])
            refs_new = sorted(item_new.get(refs_key) or [])
            label = str(item_new.get(label_key) or "")
            if refs_old != refs_new:
                _diff_plain_list(
                    out, f"{list_path}.{refs_key}", item_old.get(refs_key), item_new.get(refs_key), label
                )
            _diff_fields(out, list_path, item_old, item_new, skip=(label_key, refs_key), detail=label)
    _diff_fields(out, path, old, new, skip=tuple(_ARM_LISTS))


def _renamed_ref(ref: str, renames: dict[str, str]) -> str:
    """A label an arm or intervention points to, after the renames ("Drug: X" names intervention X)."""
    if ref in renames:
        return renames[ref]
    prefix, sep, name = ref.partition(": ")
    return f"{prefix}{sep}{renames[name]}" if sep and name in renames else ref


# --- results ----------------------------------------------------------------------------------------------


def _flatten(value: Any, prefix: tuple[Any, ...], into: dict[tuple[Any, ...], Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, (*prefix, key), into)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, (*prefix, index), into)
    else:
        into[prefix] = value


def _diff_results(out: _Events, old: Any, new: Any) -> None:
    """Results are summarised per module: a reader wants "outcome measure results changed", not 3,000 cells."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        if old is None and isinstance(new, dict):
            out.add("resultsSection", None, _module_labels(new), detail="results section added")
        elif new is None and isinstance(old, dict):
            out.add("resultsSection", _module_labels(old), None, detail="results section removed")
        else:
            _diff_value(out, "resultsSection", old, new)
        return
    for module in _keys(old, new):
        before, after = old.get(module), new.get(module)
        if before == after:
            continue
        path = f"resultsSection.{module}"
        if before is None:
            out.add(path, None, "posted", detail="results module added")
        elif after is None:
            out.add(path, "posted", None, detail="results module removed")
        else:
            leaves_old: dict[tuple[Any, ...], Any] = {}
            leaves_new: dict[tuple[Any, ...], Any] = {}
            _flatten(before, (), leaves_old)
            _flatten(after, (), leaves_new)
            changed = sum(
                1 for key in leaves_old.keys() & leaves_new.keys() if leaves_old[key] != leaves_new[key]
            )
            added = len(leaves_new.keys() - leaves_old.keys())
            removed = len(leaves_old.keys() - leaves_new.keys())
            detail = f"{changed} values changed, {added} added, {removed} removed"
            out.add(path, None, None, kind="changed", detail=detail)


def _module_labels(section: dict[str, Any]) -> str:
    return ", ".join(catalog.lookup(f"resultsSection.{module}").label for module in section)


_MODULE_HANDLERS: dict[str, Callable[[_Events, str, dict[str, Any], dict[str, Any]], None]] = {
    "statusModule": _diff_status,
    "designModule": _diff_design,
    "contactsLocationsModule": _diff_contacts_locations,
    "eligibilityModule": _diff_eligibility,
    "outcomesModule": _diff_outcomes,
    "armsInterventionsModule": _diff_arms,
}
