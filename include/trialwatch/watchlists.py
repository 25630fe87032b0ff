"""Watchlists: the YAML files in ``include/watchlists/`` that say which trials to watch and who hears about it.

Users edit these files by hand, so every mistake gets a message that names the file, the key and the
line, and one broken file never stops the others from loading. The schema is documented at the top of
``include/watchlists/nk_cell_leukemia.yaml`` and in ``docs/watchlists.md``.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trialwatch import settings
from trialwatch.catalog import OVERALL_STATUSES, Thresholds
from trialwatch.events import CATEGORIES, SEVERITIES
from trialwatch.findings import CODES as FINDING_CODES
from trialwatch.records import NCT_RE, extract_nct_ids

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[a-z0-9_-]+")
# Anything that was meant to be an NCT id but has the wrong number of digits ("NCT123", "NCT021857810").
NCT_LIKE_RE = re.compile(r"\bNCT[\s_-]?\d+\b", re.IGNORECASE)
# Deliberately simple: a local part without spaces or brackets, an @, and a dotted domain name.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)

CADENCES: tuple[str, ...] = ("daily", "weekly")
IMMEDIATE_OFF = "none"
DEFAULT_MAX_RESULTS = 500
# Bounds on one watchlist file, far above any real one (a 10,000-trial list is ~150 kB and ~10,000
# values), so a hostile or runaway file fails fast with a message instead of hanging every loader.
MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_REPORTED_ALIASES = 10

KEYS: tuple[str, ...] = (
    "title",
    "description",
    "trials",
    "queries",
    "recipients",
    "cadence",
    "immediate_severity",
    "min_severity",
    "categories",
    "thresholds",
    "combine",
    "channels",
    "findings",
    "history",
)
HISTORY_FULL = "full"
HISTORY_NONE = "none"
HISTORY_RECENT_RE = re.compile(r"recent\s+(\d+)")
# Where a digest can go besides email; each channel names an Airflow connection, never a URL or secret.
CHANNEL_KINDS: tuple[str, ...] = ("webhook", "slack", "teams")
# Airflow's own rule for connection ids (letters, digits, '_', '.', '-'; at most 250 characters).
CONN_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,250}")
# ClinicalTrials.gov API v2 /studies parameters a query may set (paging and field selection are the client's).
QUERY_PARAMS: tuple[str, ...] = (
    "query.cond",
    "query.term",
    "query.locn",
    "query.titles",
    "query.intr",
    "query.outc",
    "query.spons",
    "query.lead",
    "query.id",
    "query.patient",
    "filter.overallStatus",
    "filter.geo",
    "filter.advanced",
    "filter.ids",
)
# `all: true`: a query that matches every study in the registry (see "Registry-wide queries" below).
ALL_KEY = "all"
QUERY_KEYS: tuple[str, ...] = ("name", *QUERY_PARAMS, ALL_KEY, "max_results")
# Parameters the API takes as a list; a YAML list is joined with "|" for them.
LIST_PARAMS: frozenset[str] = frozenset({"filter.overallStatus", "filter.ids"})


@dataclass(frozen=True)
class Query:
    """One ClinicalTrials.gov search whose matches join the watchlist; ``params`` go to ``/studies`` as is."""

    name: str
    params: dict[str, str] = field(hash=False)
    max_results: int = DEFAULT_MAX_RESULTS

    @property
    def matches_all(self) -> bool:
        """A registry-wide query (``all: true``): ``/studies`` with no query or filter lists every study."""
        return not self.params


@dataclass(frozen=True)
class Channel:
    """A non-email destination: its kind and the Airflow connection that holds its URL (and secret)."""

    kind: str
    connection: str

    @property
    def ref(self) -> str:
        """``kind:connection``: how the outbox names this destination (its "recipient")."""
        return f"{self.kind}:{self.connection}"


@dataclass(frozen=True)
class Watchlist:
    """A validated watchlist file. ``name`` is the file stem and names its digest DAG."""

    name: str
    path: Path
    title: str
    description: str = ""
    nct_ids: tuple[str, ...] = ()
    queries: tuple[Query, ...] = ()
    recipients: tuple[str, ...] = ()
    cadence: str = "daily"
    immediate_severity: str | None = "critical"
    min_severity: str = "minor"
    categories: tuple[str, ...] = ()
    thresholds: dict[str, Any] = field(default_factory=dict, hash=False)
    combine: bool = True
    channels: tuple[Channel, ...] = ()
    # The finding codes this watchlist reports (all by default; none with `findings: false`).
    findings: tuple[str, ...] = FINDING_CODES
    # How many older versions of a newly watched trial to backfill: None for all (`history: full`),
    # N for `recent N`, 0 for `none`.
    history: int | None = None
    # Problems that did not stop the file from loading (duplicates removed, no recipients).
    warnings: tuple[str, ...] = field(default=(), compare=False)


class WatchlistError(ValueError):
    """A watchlist file that cannot be used. Each line of ``str()`` reads ``<path>: <problem>``."""

    def __init__(self, path: Path, problems: str | list[str]) -> None:
        self.path = Path(path)
        self.problems: tuple[str, ...] = (problems,) if isinstance(problems, str) else tuple(problems)
        self.message = "\n".join(self.problems)
        super().__init__("\n".join(f"{self.path}: {problem}" for problem in self.problems))


@dataclass
class WatchlistSet:
    """Every watchlist in a directory that loaded, and an error for each file that did not."""

    watchlists: list[Watchlist]
    errors: list[WatchlistError] = field(default_factory=list)

    def __iter__(self) -> Iterator[Watchlist]:
        return iter(self.watchlists)

    def __len__(self) -> int:
        return len(self.watchlists)

    def get(self, name: str) -> Watchlist:
        for watchlist in self.watchlists:
            if watchlist.name == name:
                return watchlist
        known = ", ".join(w.name for w in self.watchlists) or "none"
        raise KeyError(f"no watchlist named {name!r}; known watchlists: {known}")

    def all_nct_ids(self) -> list[str]:
        """The NCT ids listed by any watchlist (query matches are resolved at sync time), sorted."""
        return sorted({nct_id for watchlist in self.watchlists for nct_id in watchlist.nct_ids})


# ---------------------------------------------------------------------------------------------------
# Line numbers: PyYAML's plain loader forgets where values came from, so the composed node tree is kept
# beside the loaded data and asked for the line of a key path when a problem is reported.


class _Source:
    def __init__(self, root: yaml.Node) -> None:
        self.root = root

    def node(self, *path: str | int) -> yaml.Node | None:
        node: yaml.Node | None = self.root
        for step in path:
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                node = next((value for key, value in node.value if key.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
            else:
                return None
        return node

    def key_line(self, *path: str | int) -> int | None:
        """1-based line of the key at ``path`` (a mapping key) or of the item (a sequence index)."""
        *parents, last = path
        parent = self.node(*parents)
        if isinstance(parent, yaml.MappingNode):
            for key, _value in parent.value:
                if key.value == last:
                    return key.start_mark.line + 1
        if isinstance(parent, yaml.SequenceNode) and isinstance(last, int) and last < len(parent.value):
            return parent.value[last].start_mark.line + 1
        return None

    def at(self, *path: str | int) -> str:
        """``"key.path (line N)"`` for messages."""
        label = _label(path)
        line = self.key_line(*path)
        return f"{label} (line {line})" if line else label


def _label(path: tuple[str | int, ...]) -> str:
    label = ""
    for step in path:
        label += f"[{step}]" if isinstance(step, int) else (f".{step}" if label else step)
    return label


def _duplicate_keys(node: yaml.Node, path: tuple[str | int, ...] = ()) -> list[str]:
    """YAML lets a later key silently replace an earlier one; a watchlist author never means that."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in first_line:
                where = _label((*path, name))
                problems.append(f"{where} appears twice (lines {first_line[name]} and {line}); keep one")
            else:
                first_line[name] = line
            problems.extend(_duplicate_keys(value, (*path, name)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, (*path, index)))
    return problems


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    candidates = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not candidates:
        candidates = [c for c in choices if c.split(".")[-1] == word.split(".")[-1]][:1]
    return f" (did you mean {candidates[0]!r}?)" if candidates else ""


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number"}.get(
        type(value), type(value).__name__
    )


def _as_list(value: Any) -> list[Any] | None:
    """A list as is, a single text value as a one-item list, anything else None (a type error)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    return None


# ---------------------------------------------------------------------------------------------------
# Validation of one file. Each checker appends problems and returns the cleaned value, so one pass
# reports everything that is wrong instead of stopping at the first mistake.


class _Checker:
    def __init__(self, source: _Source) -> None:
        self.src = source
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def text(self, data: dict[str, Any], key: str, *, required: bool) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(f"{key!r} is required (a short title shown in digests and the UI)")
            return ""
        if not isinstance(value, str):
            self.problem(f"{self.src.at(key)} must be text, got {_type_name(value)}")
            return ""
        if required and not value.strip():
            self.problem(f"{self.src.at(key)} must not be empty")
        return value.strip()

    def choice(self, data: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            shown = repr(value) if isinstance(value, str) else _type_name(value)
            self.problem(f"{self.src.at(key)} is {shown}; allowed: {', '.join(allowed)}")
            return default
        return value.strip().lower()

    def trials(self, data: dict[str, Any]) -> tuple[str, ...]:
        raw = data.get("trials")
        if raw is None:
            return ()
        entries = _as_list(raw)
        if entries is None:
            self.problem(
                f"{self.src.at('trials')} must be a list of NCT ids or study links, got {_type_name(raw)}"
            )
            return ()
        ids: list[str] = []
        for index, entry in enumerate(entries):
            where = self.src.at("trials", index) if isinstance(raw, list) else self.src.at("trials")
            if not isinstance(entry, str):
                self.problem(f"{where} must be an NCT id or a link containing one, got {_type_name(entry)}")
                continue
            found = extract_nct_ids(entry)
            malformed = [m.group(0) for m in NCT_LIKE_RE.finditer(entry) if not NCT_RE.fullmatch(m.group(0))]
            if malformed:
                self.problem(
                    f"{where}: malformed NCT id {malformed[0]!r}; an NCT id is 'NCT' followed by exactly 8 digits"
                )
            elif not found:
                self.problem(f"{where}: no NCT id in {entry!r} (expected e.g. NCT02185781 or a study link)")
            ids.extend(found)
        unique = list(dict.fromkeys(ids))
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            self.warn(f"trials lists {', '.join(repeated)} more than once; watched once")
        return tuple(unique)

    def queries(self, data: dict[str, Any]) -> tuple[Query, ...]:
        raw = data.get("queries")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(f"{self.src.at('queries')} must be a list of searches, got {_type_name(raw)}")
            return ()
        queries: list[Query] = []
        names: dict[str, int] = {}
        for index, item in enumerate(raw):
            query = self.query(item, index)
            if query is None:
                continue
            if query.name in names:
                self.problem(
                    f"{self.src.at('queries', index)}: query name {query.name!r} is already used by "
                    f"queries[{names[query.name]}]; names must differ"
                )
                continue
            names[query.name] = index
            queries.append(query)
        return tuple(queries)

    def query(self, item: Any, index: int) -> Query | None:
        at = self.src.at("queries", index)
        if not isinstance(item, dict):
            self.problem(
                f"{at} must be a mapping like {{name: ..., query.cond: ...}}, got {_type_name(item)}"
            )
            return None
        before = len(self.problems)
        params: dict[str, str] = {}
        for key, value in item.items():
            key = str(key)
            where = self.src.at("queries", index, key)
            if key not in QUERY_KEYS:
                self.problem(
                    f"{where}: unknown query key {key!r}{_did_you_mean(key, QUERY_KEYS)}; "
                    f"allowed: {', '.join(QUERY_KEYS)}"
                )
            elif key in QUERY_PARAMS:
                param = self.query_param(key, value, where)
                if param is not None:
                    params[key] = param
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            self.problem(f"{self.src.at('queries', index, 'name')} must be non-empty text")
            name = None
        everything = _registry_wide(self, item, index, params)
        default_max = REGISTRY_WIDE_MAX_RESULTS if everything else DEFAULT_MAX_RESULTS
        max_results = item.get("max_results", default_max)
        if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
            self.problem(
                f"{self.src.at('queries', index, 'max_results')} must be a whole number of 1 or more, "
                f"got {max_results!r}"
            )
        if not params and not everything and len(self.problems) == before:
            self.problem(
                f"{at} has no search parameter; give at least one of {', '.join(QUERY_PARAMS)} "
                f"(or '{ALL_KEY}: true' to watch the whole registry)"
            )
        if len(self.problems) > before:
            return None
        if isinstance(name, str):
            label = name.strip()
        else:
            label = "; ".join(f"{k}={v}" for k, v in params.items()) or REGISTRY_WIDE_LABEL
        return Query(name=label, params=params, max_results=max_results)

    def query_param(self, key: str, value: Any, where: str) -> str | None:
        if isinstance(value, list) and key in LIST_PARAMS:
            if not value or not all(isinstance(v, str) and v.strip() for v in value):
                self.problem(f"{where} must be a non-empty list of text values")
                return None
            items = [v.strip() for v in value]
        elif isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            text = str(value).strip()
            if not text:
                self.problem(f"{where} is empty; remove the key or give a search")
                return None
            if key not in LIST_PARAMS:
                return text
            items = [part.strip() for part in re.split(r"[,|]", text) if part.strip()]
        else:
            self.problem(f"{where} must be text, got {_type_name(value)}")
            return None
        if key == "filter.overallStatus":
            unknown = [v for v in items if v.upper() not in OVERALL_STATUSES]
            if unknown:
                self.problem(
                    f"{where}: unknown status {unknown[0]!r}; allowed: {', '.join(OVERALL_STATUSES)}"
                )
                return None
            items = [v.upper() for v in items]
        if key == "filter.ids":
            bad = [v for v in items if not NCT_RE.fullmatch(v)]
            if bad:
                self.problem(f"{where}: {bad[0]!r} is not an NCT id ('NCT' followed by exactly 8 digits)")
                return None
            items = [v.upper() for v in items]
        return "|".join(items)

    def recipients(self, data: dict[str, Any]) -> tuple[str, ...]:
        raw = data.get("recipients")
        if raw is None:
            self.warn("no recipients: changes are recorded and shown in the UI, but no digest is emailed")
            return ()
        entries = _as_list(raw)
        if entries is None:
            self.problem(
                f"{self.src.at('recipients')} must be a list of email addresses, got {_type_name(raw)}"
            )
            return ()
        addresses: dict[str, str] = {}
        for index, entry in enumerate(entries):
            where = self.src.at("recipients", index) if isinstance(raw, list) else self.src.at("recipients")
            if not isinstance(entry, str) or not EMAIL_RE.fullmatch(entry.strip()):
                shown = repr(entry) if isinstance(entry, str) else _type_name(entry)
                self.problem(
                    f"{where}: {shown} is not an email address (expected e.g. trial-office@example.org)"
                )
                continue
            address = entry.strip()
            if address.lower() in addresses:
                self.warn(f"recipient {address} is listed more than once; mailed once")
                continue
            addresses[address.lower()] = address
        if not addresses and not self.problems:
            self.warn("no recipients: changes are recorded and shown in the UI, but no digest is emailed")
        return tuple(addresses.values())

    def immediate(self, data: dict[str, Any]) -> str | None:
        value = data.get("immediate_severity", "critical")
        if value is None or value is False:  # `immediate_severity:` left empty, or `false`
            return None
        chosen = self.choice(data, "immediate_severity", (*SEVERITIES, IMMEDIATE_OFF), "critical")
        return None if chosen == IMMEDIATE_OFF else chosen

    def categories(self, data: dict[str, Any]) -> tuple[str, ...]:
        raw = data.get("categories")
        if raw is None:
            return ()
        entries = _as_list(raw)
        if entries is None:
            self.problem(f"{self.src.at('categories')} must be a list of categories, got {_type_name(raw)}")
            return ()
        chosen: list[str] = []
        for index, entry in enumerate(entries):
            where = self.src.at("categories", index) if isinstance(raw, list) else self.src.at("categories")
            value = entry.strip().lower() if isinstance(entry, str) else entry
            if value not in CATEGORIES:
                shown = repr(entry) if isinstance(entry, str) else _type_name(entry)
                hint = _did_you_mean(value, CATEGORIES) if isinstance(value, str) else ""
                self.problem(f"{where}: unknown category {shown}{hint}; allowed: {', '.join(CATEGORIES)}")
            elif value not in chosen:
                chosen.append(value)
        return tuple(chosen)

    def thresholds(self, data: dict[str, Any]) -> dict[str, Any]:
        raw = data.get("thresholds")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(
                f"{self.src.at('thresholds')} must be a mapping of name: value, got {_type_name(raw)}"
            )
            return {}
        before = len(self.problems)
        for key, value in raw.items():
            try:  # one key at a time, so each problem gets its own line number
                Thresholds.from_mapping({key: value})
            except (ValueError, TypeError) as exc:
                self.problem(f"{self.src.at('thresholds', str(key))}: {exc}")
        if len(self.problems) > before:
            return {}
        try:
            Thresholds.from_mapping(raw)
        except (ValueError, TypeError) as exc:
            self.problem(f"{self.src.at('thresholds')}: {exc}")
            return {}
        return dict(raw)

    def channels(self, data: dict[str, Any]) -> tuple[Channel, ...]:
        raw = data.get("channels")
        if raw is None:
            return ()
        example = "a list like [{slack: slack_trial_office}, {webhook: partner_webhook}]"
        if not isinstance(raw, list):
            self.problem(f"{self.src.at('channels')} must be {example}, got {_type_name(raw)}")
            return ()
        chosen: list[Channel] = []
        for index, item in enumerate(raw):
            where = self.src.at("channels", index)
            if not isinstance(item, dict) or len(item) != 1:
                shown = f"{len(item)} keys" if isinstance(item, dict) else _type_name(item)
                self.problem(
                    f"{where} must be one 'kind: connection id' pair (kinds: {', '.join(CHANNEL_KINDS)}), "
                    f"got {shown}"
                )
                continue
            [(kind, connection)] = item.items()
            kind = str(kind).strip().lower()
            if kind not in CHANNEL_KINDS:
                self.problem(
                    f"{where}: unknown channel kind {str(kind)!r}{_did_you_mean(kind, CHANNEL_KINDS)}; "
                    f"allowed: {', '.join(CHANNEL_KINDS)}"
                )
                continue
            if not isinstance(connection, str) or not CONN_ID_RE.fullmatch(connection.strip()):
                shown = repr(connection) if isinstance(connection, str) else _type_name(connection)
                if isinstance(connection, str) and ("://" in connection or "/" in connection):
                    hint = (
                        "put the URL (and any secret) in an Airflow connection and name that connection here"
                    )
                else:
                    hint = "expected an Airflow connection id (letters, digits, '_', '.', '-')"
                self.problem(f"{where}: {kind} {shown} is not a connection id; {hint}")
                continue
            channel = Channel(kind, connection.strip())
            if channel in chosen:
                self.warn(f"channel {channel.ref} is listed more than once; delivered once")
                continue
            chosen.append(channel)
        return tuple(chosen)

    def findings(self, data: dict[str, Any]) -> tuple[str, ...]:
        raw = data.get("findings", True)
        if isinstance(raw, bool):
            return FINDING_CODES if raw else ()
        entries = _as_list(raw)
        if entries is None:
            self.problem(
                f"{self.src.at('findings')} must be true, false or a list of finding codes, got {_type_name(raw)}"
            )
            return FINDING_CODES
        chosen: list[str] = []
        for index, entry in enumerate(entries):
            where = self.src.at("findings", index) if isinstance(raw, list) else self.src.at("findings")
            value = entry.strip().lower() if isinstance(entry, str) else entry
            if value not in FINDING_CODES:
                shown = repr(entry) if isinstance(entry, str) else _type_name(entry)
                hint = _did_you_mean(value, FINDING_CODES) if isinstance(value, str) else ""
                self.problem(f"{where}: unknown finding {shown}{hint}; allowed: {', '.join(FINDING_CODES)}")
            elif value not in chosen:
                chosen.append(value)
        return tuple(chosen)

    def history(self, data: dict[str, Any]) -> int | None:
        raw = data.get("history", HISTORY_FULL)
        text = raw.strip().lower() if isinstance(raw, str) else None
        if text == HISTORY_FULL:
            return None
        if text == HISTORY_NONE:
            return 0
        match = HISTORY_RECENT_RE.fullmatch(text or "")
        if match and int(match.group(1)) >= 1:
            return int(match.group(1))
        shown = repr(raw) if isinstance(raw, str) else _type_name(raw)
        self.problem(
            f"{self.src.at('history')} is {shown}; allowed: full, recent N (N older versions, "
            "N of 1 or more), none"
        )
        return None

    def combine(self, data: dict[str, Any]) -> bool:
        value = data.get("combine", True)
        if not isinstance(value, bool):
            self.problem(f"{self.src.at('combine')} must be true or false, got {value!r}")
            return True
        return value


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    """Where the parser gave up, what it expected, and where the unfinished construct began."""

    def position(mark: yaml.Mark) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"

    mark = exc.problem_mark or exc.context_mark
    message = (
        f"YAML syntax error at {position(mark) if mark else 'an unknown position'}: {exc.problem or exc}"
    )
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        message += f" ({exc.context} started at {position(exc.context_mark)})"
    elif exc.context:
        message += f" ({exc.context})"
    return message


def _unsafe_structure(text: str) -> list[str]:
    """Problems that make a file too costly to load, found in one linear pass over the YAML events.

    An alias repeats a whole subtree without repeating its text, so a kilobyte of nested aliases
    ("billion laughs") expands to billions of values; watchlists never need them, so they are
    refused. Node count and nesting depth are bounded so no file can exhaust memory or the stack.
    """
    problems: list[str] = []
    aliases: dict[str, list[int]] = {}  # anchor name -> [first line, uses]
    nodes = depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            aliases.setdefault(str(event.anchor), [line, 0])[1] += 1
            continue
        if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            nodes += 1
            if nodes > MAX_NODES:
                problems.append(f"line {line}: more than {MAX_NODES:,} YAML values; split the watchlist")
                break
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                problems.append(f"line {line}: lists and mappings nested more than {MAX_DEPTH} levels deep")
                break
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    for anchor, (line, uses) in list(aliases.items())[:MAX_REPORTED_ALIASES]:
        times = f" (used {uses} times)" if uses > 1 else ""
        problems.append(
            f"line {line}: YAML alias *{anchor}{times} is not allowed in a watchlist; "
            "write the value out where it is needed"
        )
    if len(aliases) > MAX_REPORTED_ALIASES:
        problems.append(f"and {len(aliases) - MAX_REPORTED_ALIASES} more aliases")
    return problems


def _parse(path: Path) -> tuple[dict[str, Any], _Source]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise WatchlistError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise WatchlistError(
            path, f"the file is larger than {MAX_FILE_BYTES:,} bytes; a watchlist is a short list"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WatchlistError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        unsafe = _unsafe_structure(text)
        if unsafe:
            raise WatchlistError(path, unsafe)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise WatchlistError(path, _syntax_message(exc)) from exc
    except yaml.YAMLError as exc:
        raise WatchlistError(path, f"YAML error: {exc}") from exc
    if root is None or data is None:
        raise WatchlistError(
            path, "the file is empty; a watchlist needs at least a title and trials or queries"
        )
    if not isinstance(data, dict):
        raise WatchlistError(
            path,
            f"the top level must be a mapping of keys ({', '.join(KEYS[:4])}, ...), got {_type_name(data)}",
        )
    return data, _Source(root)


def load_watchlist(path: Path) -> Watchlist:
    """Read and validate one watchlist file; every problem in it is reported in one WatchlistError."""
    path = Path(path)
    data, source = _parse(path)
    check = _Checker(source)
    for problem in _duplicate_keys(source.root):
        check.problem(problem)
    if not NAME_RE.fullmatch(path.stem):
        check.problem(
            f"file name {path.name!r}: the name before .yaml becomes the watchlist and DAG name, "
            "so use only lower-case letters, digits, '_' and '-'"
        )
    for key in data:
        if str(key) not in KEYS:
            check.problem(
                f"{source.at(str(key))}: unknown key {str(key)!r}{_did_you_mean(str(key), KEYS)}; "
                f"allowed: {', '.join(KEYS)}"
            )
    watchlist = Watchlist(
        name=path.stem,
        path=path,
        title=check.text(data, "title", required=True),
        description=check.text(data, "description", required=False),
        nct_ids=check.trials(data),
        queries=check.queries(data),
        recipients=check.recipients(data),
        cadence=check.choice(data, "cadence", CADENCES, "daily"),
        immediate_severity=check.immediate(data),
        min_severity=check.choice(data, "min_severity", SEVERITIES, "minor"),
        categories=check.categories(data),
        thresholds=check.thresholds(data),
        combine=check.combine(data),
        channels=check.channels(data),
        findings=check.findings(data),
        history=check.history(data),
        warnings=tuple(check.warnings),
    )
    if data.get("trials") in (None, [], "") and data.get("queries") in (None, []):
        check.problem(
            "nothing to watch: give 'trials' (NCT ids or study links), 'queries' (searches), or both"
        )
    if check.problems:
        raise WatchlistError(path, check.problems)
    return watchlist


def watchlist_files(directory: Path) -> list[Path]:
    """The watchlist files in ``directory``: *.yaml and *.yml, hidden files skipped, in name order."""
    files = [p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith(".")]
    return sorted(p for p in files if p.is_file())


def load_watchlists(directory: Path | None = None) -> WatchlistSet:
    """Load every watchlist in ``directory`` (default: settings.watchlist_dir()); bad files land in ``.errors``."""
    directory = Path(directory) if directory is not None else settings.watchlist_dir()
    result = WatchlistSet(watchlists=[], errors=[])
    if not directory.is_dir():
        error = WatchlistError(directory, "watchlist directory does not exist")
        log.error("%s", error)
        result.errors.append(error)
        return result
    by_name: dict[str, Path] = {}
    for path in watchlist_files(directory):
        try:
            watchlist = load_watchlist(path)
        except WatchlistError as error:
            log.error("%s", error)
            result.errors.append(error)
            continue
        if watchlist.name in by_name:
            error = WatchlistError(
                path,
                f"watchlist name {watchlist.name!r} is already used by {by_name[watchlist.name].name}; "
                "rename one of the files",
            )
            log.error("%s", error)
            result.errors.append(error)
            continue
        by_name[watchlist.name] = path
        for warning in watchlist.warnings:
            log.warning("%s: %s", path, warning)
        result.watchlists.append(watchlist)
    return result


# ---------------------------------------------------------------------------------------------------
# Registry-wide queries. `all: true` in a query watches every study in the registry: the listing
# sends no query.* or filter.* parameter (API v2: no query and no filter = all studies), and an
# incremental day sends only the LastUpdatePostDate window. Its first sync fetches every record.

REGISTRY_WIDE_LABEL = "every study in the registry"
# Above the registry's ~606,000 studies, with room to grow; the client pages 1,000 at a time.
REGISTRY_WIDE_MAX_RESULTS = 1_000_000
# Registry size and average record from docs/reference/ctgov-api.md §5 (605,599 studies, 17,301 B).
REGISTRY_WIDE_COST = (
    "watches the whole registry (about 606,000 studies): the first sync fetches every record, "
    "about 10 GB in some 6,700 requests, plus each trial's version history unless "
    "TRIALWATCH_USE_HISTORY=false; each weekly reconciliation lists every id and fetches every record again"
)


def _registry_wide(check: _Checker, item: dict[str, Any], index: int, params: dict[str, str]) -> bool:
    """Whether query ``index`` says ``all: true``; a non-boolean, or other search keys beside it,
    are problems (a search narrows the query, so "all" would not be what it watches)."""
    if ALL_KEY not in item:
        return False
    value = item[ALL_KEY]
    where = check.src.at("queries", index, ALL_KEY)
    if not isinstance(value, bool):
        check.problem(f"{where} must be true or false, got {value!r}")
        return False
    if not value:
        return False
    others = [key for key in item if str(key) in QUERY_PARAMS]
    if others:
        check.problem(
            f"{where}: '{ALL_KEY}: true' matches every study, so it cannot be combined with "
            f"{', '.join(map(str, others))}; remove those keys or '{ALL_KEY}'"
        )
        return False
    name = item.get("name")
    check.warn(f"query {name or REGISTRY_WIDE_LABEL!r} {REGISTRY_WIDE_COST}")
    return not params


def registry_wide_query(
    name: str = REGISTRY_WIDE_LABEL, max_results: int = REGISTRY_WIDE_MAX_RESULTS
) -> Query:
    """The query ``all: true`` loads as: no parameter at all."""
    return Query(name=name, params={}, max_results=max_results)


# ---------------------------------------------------------------------------------------------------
# `trialwatch watchlists`


def describe(watchlist: Watchlist) -> list[str]:
    """Human-readable lines for one watchlist, as ``trialwatch watchlists`` prints them."""
    lines = [f"{watchlist.name}  ({watchlist.path})", f"  title:      {watchlist.title}"]
    lines.append(f"  trials:     {', '.join(watchlist.nct_ids) or '(none)'}")
    if not watchlist.queries:
        lines.append("  queries:    (none)")
    for query in watchlist.queries:
        params = "; ".join(f"{k}={v}" for k, v in query.params.items()) or REGISTRY_WIDE_LABEL
        lines.append(f"  query:      {query.name}: {params} (up to {query.max_results} trials)")
    lines.append(f"  recipients: {', '.join(watchlist.recipients) or '(none)'}")
    immediate = watchlist.immediate_severity or IMMEDIATE_OFF
    lines.append(
        f"  cadence:    {watchlist.cadence}; min severity {watchlist.min_severity}; "
        f"immediate at {immediate}; combine {'yes' if watchlist.combine else 'no'}"
    )
    lines.append(f"  categories: {', '.join(watchlist.categories) or 'all'}")
    if watchlist.findings != FINDING_CODES:
        lines.append(f"  findings:   {', '.join(watchlist.findings) or 'off'}")
    if watchlist.history is not None:
        history = f"recent {watchlist.history}" if watchlist.history else HISTORY_NONE
        lines.append(f"  history:    {history} (older versions of a newly watched trial)")
    if watchlist.channels:
        lines.append(f"  channels:   {', '.join(channel.ref for channel in watchlist.channels)}")
    if watchlist.thresholds:
        lines.append(f"  thresholds: {', '.join(f'{k}={v}' for k, v in watchlist.thresholds.items())}")
    lines.extend(f"  warning:    {warning}" for warning in watchlist.warnings)
    return lines
