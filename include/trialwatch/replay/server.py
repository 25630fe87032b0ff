"""The replay registry: a real HTTP server that answers like ClinicalTrials.gov from recorded data.

It serves the subset of API v2 the pipeline uses (``/version``, ``/studies``, ``/studies/{id}``,
with ``filter.advanced`` date ranges on LastUpdatePostDate) and the website's history endpoints
(``/api/int/...``), with the real quirks (spurious page tokens, text/plain 400s, alias 301s) and
with named time points ("days") so a demo or test can watch records change. Faults (429, 503, HTML pages, dropped connections) can be injected per path.
Layout of the data: ``data/README.md``; provenance: ``data/SOURCES.md``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from trialwatch.catalog import OVERALL_STATUSES

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
METADATA_FILE = DEFAULT_DATA_DIR / "samples" / "metadata" / "studies_metadata_aact_2024-10-08.json"
TIMELINE_FILE = "timeline.json"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
NCT_IN_PATH_RE = re.compile(r"^[Nn][Cc][Tt]0*[1-9]\d{0,7}$")
# Every /studies parameter the real API knows; the ones this server cannot imitate answer 400
# rather than being silently ignored, so a test never passes on a wrong result.
QUERY_AREAS = ("cond", "term", "locn", "titles", "intr", "outc", "spons", "lead", "id")
SUPPORTED_STUDIES_PARAMS = frozenset(
    {f"query.{area}" for area in QUERY_AREAS}
    | {
        "filter.overallStatus",
        "filter.ids",
        "filter.advanced",
        "fields",
        "countTotal",
        "pageSize",
        "pageToken",
        "format",
        "markupFormat",
    }
)
KNOWN_UNSUPPORTED_PARAMS = frozenset(
    {"query.patient", "filter.geo", "filter.synonyms", "aggFilters", "geoDecay", "sort"}
)
PAGING_ONLY_PARAMS = frozenset({"pageToken", "pageSize", "countTotal"})
# filter.advanced: the part of Essie the sync's incremental runs send, date ranges on the last update
# posted, joined by AND and grouped by parentheses; anything else answers 400.
ADVANCED_TOKEN_RE = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<and>AND)\b|AREA\[(?P<area>[^\]]*)\]RANGE\[(?P<range>[^\]]*)\])"
)
RANGE_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ReplayDataError(ValueError):
    """The replay data directory is inconsistent; the message names the file and the problem."""


class HTTPProblem(Exception):
    """An error answer (text/plain, like the real API's 400 and 404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Answer:
        return cls(status, json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

    @classmethod
    def text(cls, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        return cls(status, message.encode("utf-8"), "text/plain; charset=utf-8", headers or {})


@dataclass(frozen=True)
class DayInfo:
    day: int
    date: str
    data_timestamp: str


@dataclass(frozen=True)
class ServedVersion:
    """One registry version of one study as a given day serves it."""

    nct_id: str
    version: int
    date: str
    module_labels: tuple[str, ...]
    body: dict[str, Any]
    source_key: str  # which file (and page element) the body came from

    @property
    def change_entry(self) -> dict[str, Any]:
        protocol = self.body.get("protocolSection", {})
        return {
            "version": self.version,
            "date": self.date,
            "status": protocol.get("statusModule", {}).get("overallStatus"),
            "studyType": protocol.get("designModule", {}).get("studyType"),
            "moduleLabels": list(self.module_labels),
        }


@dataclass(frozen=True)
class _VersionSpec:
    version: int
    date: str
    module_labels: tuple[str, ...]
    file: str
    element: int | None
    rebuilds: tuple[tuple[int, str, int | None], ...]  # (from_day, file, element)


# ----------------------------------------------------------------------------- recorded data


class ReplayRegistry:
    """The recorded registry: which version of which study each day serves. Read-only once loaded."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
        timeline_path = self.data_dir / TIMELINE_FILE
        try:
            timeline = json.loads(timeline_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReplayDataError(f"{timeline_path}: cannot read the replay timeline: {exc}") from exc
        self.api_version: str = str(timeline.get("apiVersion", "2.0.5"))
        self.days: dict[int, DayInfo] = self._parse_days(timeline, timeline_path)
        self._bodies: dict[tuple[str, int | None], dict[str, Any]] = {}
        specs = self._parse_studies(timeline, timeline_path)
        self._views: dict[int, dict[str, list[ServedVersion]]] = {
            day: self._view(specs, info) for day, info in self.days.items()
        }
        self._aliases: dict[str, str] = {}
        for view in self._views.values():
            for nct_id, versions in view.items():
                ident = versions[-1].body.get("protocolSection", {}).get("identificationModule", {})
                for alias in ident.get("nctIdAliases", []) or []:
                    self._aliases[str(alias).upper()] = nct_id
        self._tokens: dict[tuple[str, str], frozenset[str]] = {}
        self._tokens_lock = threading.Lock()

    @staticmethod
    def _parse_days(timeline: dict[str, Any], where: Path) -> dict[int, DayInfo]:
        days: dict[int, DayInfo] = {}
        for entry in timeline.get("days", []):
            try:
                info = DayInfo(int(entry["day"]), str(entry["date"]), str(entry["dataTimestamp"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ReplayDataError(
                    f"{where}: day entry {entry!r} needs day, date and dataTimestamp"
                ) from exc
            days[info.day] = info
        if not days:
            raise ReplayDataError(f"{where}: no days defined")
        return dict(sorted(days.items()))

    def _parse_studies(self, timeline: dict[str, Any], where: Path) -> dict[str, list[_VersionSpec]]:
        specs: dict[str, list[_VersionSpec]] = {}
        for nct_id, study in timeline.get("studies", {}).items():
            versions: list[_VersionSpec] = []
            for entry in study.get("versions", []):
                try:
                    spec = _VersionSpec(
                        version=int(entry["version"]),
                        date=str(entry["date"]),
                        module_labels=tuple(entry.get("moduleLabels", [])),
                        file=str(entry["file"]),
                        element=entry.get("element"),
                        rebuilds=tuple(
                            (int(r["fromDay"]), str(r["file"]), r.get("element"))
                            for r in entry.get("rebuilds", [])
                        ),
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise ReplayDataError(
                        f"{where}: {nct_id} version entry {entry!r} needs version, date and file"
                    ) from exc
                for file, element in [(spec.file, spec.element)] + [(f, e) for _, f, e in spec.rebuilds]:
                    body = self._load_body(file, element)
                    body_id = body.get("protocolSection", {}).get("identificationModule", {}).get("nctId")
                    if body_id != nct_id:
                        raise ReplayDataError(f"{where}: {nct_id} points at {file}, which holds {body_id!r}")
                versions.append(spec)
            versions.sort(key=lambda spec: spec.version)
            numbers = [spec.version for spec in versions]
            if numbers != list(range(len(numbers))):
                raise ReplayDataError(f"{where}: {nct_id} versions must be numbered 0..n-1, got {numbers}")
            specs[nct_id] = versions
        return specs

    def _load_body(self, file: str, element: int | None) -> dict[str, Any]:
        key = (file, element)
        if key not in self._bodies:
            path = self.data_dir / file
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                body = data["studies"][element] if element is not None else data
            except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
                raise ReplayDataError(
                    f"{path} (element {element}): cannot load a study from it: {exc}"
                ) from exc
            if not isinstance(body, dict):
                raise ReplayDataError(f"{path} (element {element}): not a study object")
            self._bodies[key] = body
        return self._bodies[key]

    def _view(self, specs: dict[str, list[_VersionSpec]], info: DayInfo) -> dict[str, list[ServedVersion]]:
        view: dict[str, list[ServedVersion]] = {}
        for nct_id, versions in sorted(specs.items()):
            visible = []
            for spec in versions:
                if spec.date > info.date:
                    continue
                file, element = spec.file, spec.element
                for from_day, rebuilt_file, rebuilt_element in sorted(spec.rebuilds):
                    if from_day <= info.day:
                        file, element = rebuilt_file, rebuilt_element
                visible.append(
                    ServedVersion(
                        nct_id=nct_id,
                        version=spec.version,
                        date=spec.date,
                        module_labels=spec.module_labels,
                        body=self._load_body(file, element),
                        source_key=f"{file}#{element}",
                    )
                )
            if visible:
                view[nct_id] = visible
        return view

    def day_info(self, day: int) -> DayInfo:
        if day not in self.days:
            raise ValueError(f"no replay day {day}; the data defines days {sorted(self.days)}")
        return self.days[day]

    def current(self, day: int, nct_id: str) -> ServedVersion | None:
        versions = self._views[day].get(nct_id)
        return versions[-1] if versions else None

    def versions(self, day: int, nct_id: str) -> list[ServedVersion]:
        return list(self._views[day].get(nct_id, []))

    def current_all(self, day: int) -> list[ServedVersion]:
        """Every study's current version on ``day``, in nctId order (the server's stable "unsorted")."""
        return [versions[-1] for versions in self._views[day].values()]

    def canonical_id(self, alias: str) -> str | None:
        return self._aliases.get(alias.upper())

    def tokens(self, served: ServedVersion, area: str) -> frozenset[str]:
        key = (served.source_key, area)
        with self._tokens_lock:
            cached = self._tokens.get(key)
        if cached is None:
            cached = frozenset(words(" ".join(AREA_TEXTS[area](served.body))))
            with self._tokens_lock:
                self._tokens[key] = cached
        return cached


# ----------------------------------------------------------------------------- search areas


def words(text: str) -> list[str]:
    """Lower-case words with a naive plural fold, so "NK cell" and "NK cells" match alike."""
    folded = []
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        folded.append(word)
    return folded


def _module(body: dict[str, Any], name: str) -> dict[str, Any]:
    return body.get("protocolSection", {}).get(name, {}) or {}


def _all_strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _all_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_strings(value)


def _condition_texts(body: dict[str, Any]) -> Iterable[str]:
    conditions = _module(body, "conditionsModule")
    yield from conditions.get("conditions", [])
    yield from conditions.get("keywords", [])
    for mesh in body.get("derivedSection", {}).get("conditionBrowseModule", {}).get("meshes", []):
        yield mesh.get("term", "")


def _intervention_texts(body: dict[str, Any]) -> Iterable[str]:
    arms = _module(body, "armsInterventionsModule")
    for intervention in arms.get("interventions", []):
        yield intervention.get("type", "")
        yield intervention.get("name", "")
        yield intervention.get("description", "")
        yield from intervention.get("otherNames", [])
    for arm in arms.get("armGroups", []):
        yield arm.get("label", "")
    for mesh in body.get("derivedSection", {}).get("interventionBrowseModule", {}).get("meshes", []):
        yield mesh.get("term", "")


def _title_texts(body: dict[str, Any]) -> Iterable[str]:
    ident = _module(body, "identificationModule")
    return [ident.get(key, "") for key in ("briefTitle", "officialTitle", "acronym")]


def _location_texts(body: dict[str, Any]) -> Iterable[str]:
    for site in _module(body, "contactsLocationsModule").get("locations", []):
        yield from (site.get(key, "") for key in ("facility", "city", "state", "country"))


def _outcome_texts(body: dict[str, Any]) -> Iterable[str]:
    outcomes = _module(body, "outcomesModule")
    for kind in ("primaryOutcomes", "secondaryOutcomes", "otherOutcomes"):
        for outcome in outcomes.get(kind, []):
            yield outcome.get("measure", "")
            yield outcome.get("description", "")


def _sponsor_texts(body: dict[str, Any]) -> Iterable[str]:
    sponsors = _module(body, "sponsorCollaboratorsModule")
    yield sponsors.get("leadSponsor", {}).get("name", "")
    for collaborator in sponsors.get("collaborators", []):
        yield collaborator.get("name", "")


def _id_texts(body: dict[str, Any]) -> Iterable[str]:
    ident = _module(body, "identificationModule")
    yield ident.get("nctId", "")
    yield from ident.get("nctIdAliases", [])
    yield ident.get("orgStudyIdInfo", {}).get("id", "")
    for secondary in ident.get("secondaryIdInfos", []):
        yield secondary.get("id", "")


AREA_TEXTS: dict[str, Callable[[dict[str, Any]], Iterable[str]]] = {
    "cond": _condition_texts,
    "term": _all_strings,
    "locn": _location_texts,
    "titles": _title_texts,
    "intr": _intervention_texts,
    "outc": _outcome_texts,
    "spons": _sponsor_texts,
    "lead": lambda body: [_module(body, "sponsorCollaboratorsModule").get("leadSponsor", {}).get("name", "")],
    "id": _id_texts,
}


def query_words(param: str, value: str) -> list[str]:
    """The words of a plain query; Essie operators are refused rather than misread."""
    if re.search(r"\b(AREA|RANGE|EXPANSION|COVERAGE|SEARCH|MISSING)\[", value) or re.search(
        r"(^|\s)(OR|NOT)(\s|$)|[()]", value
    ):
        raise HTTPProblem(
            400,
            f"Parameter {param}: the replay registry understands only plain words (all must match), "
            f"not Essie expressions: {value!r}",
        )
    return [word for word in words(value.replace('"', " ")) if word != "and"]


# ----------------------------------------------------------------------------- filter.advanced


def last_update_posted(body: dict[str, Any]) -> str | None:
    """The record's LastUpdatePostDate (``statusModule.lastUpdatePostDateStruct.date``), if it has one."""
    status = _module(body, "statusModule")
    date = (status.get("lastUpdatePostDateStruct") or {}).get("date")
    return str(date) if date else None


def advanced_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate for ``filter.advanced``: ``AREA[LastUpdatePostDate]RANGE[from,to]`` terms (dates as
    yyyy-MM-dd, ``MIN``, ``MAX``; both ends included; a record without the date never matches) joined
    by AND, in parentheses as needed. Anything else is refused with the real API's kind of 400."""

    def refuse(why: str) -> HTTPProblem:
        return HTTPProblem(
            400,
            f"Parameter filter.advanced: {why}; not supported by the replay registry, which understands "
            f"only AREA[LastUpdatePostDate]RANGE[from,to] terms joined by AND: {expression!r}",
        )

    tokens: list[tuple[str, Any]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = ADVANCED_TOKEN_RE.match(text, position)
        if match is None:
            raise refuse(f"cannot read {text[position:].strip()[:40]!r}")
        position = match.end()
        if match.group("open"):
            tokens.append(("(", None))
        elif match.group("close"):
            tokens.append((")", None))
        elif match.group("and"):
            tokens.append(("AND", None))
        else:
            if match.group("area") != "LastUpdatePostDate":
                raise refuse(f"area {match.group('area')!r} is not supported")
            ends = [end.strip() for end in match.group("range").split(",")]
            if len(ends) != 2 or not all(e in ("MIN", "MAX") or RANGE_DATE_RE.fullmatch(e) for e in ends):
                raise refuse(f"RANGE[{match.group('range')}] is not two dates (yyyy-MM-dd, MIN or MAX)")
            low = "" if ends[0] == "MIN" else ends[0]
            high = "9999-99-99" if ends[1] == "MAX" else ends[1]
            tokens.append(("RANGE", (low, high)))

    def term(at: int) -> tuple[list[tuple[str, str]], int]:
        kind = tokens[at][0] if at < len(tokens) else "end"
        if kind == "(":
            ranges, at = conjunction(at + 1)
            if at >= len(tokens) or tokens[at][0] != ")":
                raise refuse("a parenthesis is not closed")
            return ranges, at + 1
        if kind == "RANGE":
            return [tokens[at][1]], at + 1
        raise refuse(f"expected a term, found {kind}")

    def conjunction(at: int) -> tuple[list[tuple[str, str]], int]:
        ranges, at = term(at)
        while at < len(tokens) and tokens[at][0] == "AND":
            more, at = term(at + 1)
            ranges += more
        return ranges, at

    ranges, end = conjunction(0)
    if end != len(tokens):
        raise refuse(f"unexpected {tokens[end][0]}")

    def accepts(body: dict[str, Any]) -> bool:
        posted = last_update_posted(body)
        return posted is not None and all(low <= posted <= high for low, high in ranges)

    return accepts


# ----------------------------------------------------------------------------- field projection

_field_paths: dict[str, tuple[str, ...]] | None = None


def field_paths() -> dict[str, tuple[str, ...]]:
    """Piece names (``NCTId``) and dotted field names, lower-cased, -> key path in the study object."""
    global _field_paths
    if _field_paths is None:
        tree = json.loads(METADATA_FILE.read_text(encoding="utf-8"))
        paths: dict[str, tuple[str, ...]] = {}

        def walk(nodes: list[dict[str, Any]], parent: tuple[str, ...]) -> None:
            for node in nodes:
                path = parent + (node["name"],)
                paths.setdefault(node.get("piece", node["name"]).lower(), path)
                paths.setdefault(".".join(path).lower(), path)
                walk(node.get("children", []), path)

        walk(tree, ())
        _field_paths = paths
    return _field_paths


def projection(fields_value: str) -> dict[str, Any]:
    """A trie of key paths to keep; ``True`` keeps a whole branch."""
    trie: dict[str, Any] = {}
    for name in re.split(r"[,|]", fields_value):
        name = name.strip()
        if not name:
            continue
        path = field_paths().get(name.lower())
        if path is None:
            raise HTTPProblem(400, f"Parameter fields contains invalid field name: {name}")
        node = trie
        for key in path[:-1]:
            existing = node.get(key)
            if existing is True:
                break
            node = node.setdefault(key, {})
        else:
            node[path[-1]] = True
    return trie


def project(value: Any, trie: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [projected for item in value if (projected := project(item, trie)) not in (None, {})]
    if not isinstance(value, dict):
        return None
    kept: dict[str, Any] = {}
    for key, item in value.items():
        wanted = trie.get(key)
        if wanted is True:
            kept[key] = copy.deepcopy(item)
        elif isinstance(wanted, dict):
            projected = project(item, wanted)
            if projected not in (None, {}, []):
                kept[key] = projected
    return kept


# ----------------------------------------------------------------------------- answering


def single_params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in params:
            raise HTTPProblem(400, f"Parameter {key} given more than once")
        params[key] = value
    return params


def canonical_nct(raw: str) -> str:
    if not NCT_IN_PATH_RE.match(raw):
        raise HTTPProblem(400, f"Invalid NCT number {raw!r}: expected NCT followed by up to 8 digits")
    return f"NCT{int(raw[3:]):08d}"


def _paging_key(params: dict[str, str]) -> str:
    relevant = sorted((k, v) for k, v in params.items() if k not in PAGING_ONLY_PARAMS)
    return hashlib.sha1(json.dumps(relevant).encode("utf-8")).hexdigest()[:12]


def encode_token(key: str, offset: int) -> str:
    raw = json.dumps({"k": key, "o": offset}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str) -> tuple[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return str(data["k"]), int(data["o"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise HTTPProblem(400, f"Invalid value in parameter pageToken: {token!r}") from exc


class Replay:
    """Routes requests to answers for the current day; shared by every handler thread."""

    def __init__(self, registry: ReplayRegistry, day: int) -> None:
        self.registry = registry
        registry.day_info(day)
        self._day = day
        self._lock = threading.Lock()

    @property
    def day(self) -> int:
        with self._lock:
            return self._day

    def set_day(self, day: int) -> None:
        self.registry.day_info(day)
        with self._lock:
            self._day = day
        log.info("replay registry now serves day %d", day)

    def status(self) -> dict[str, Any]:
        day = self.day
        return {
            "day": day,
            "days": sorted(self.registry.days),
            "date": self.registry.days[day].date,
            "dataTimestamp": self.registry.days[day].data_timestamp,
        }

    def answer(self, method: str, target: str) -> Answer:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        try:
            if path == "/_replay/status" and method == "GET":
                return Answer.json(self.status())
            if match := re.fullmatch(r"/_replay/day/(\d+)", path):
                if method != "POST":
                    raise HTTPProblem(405, "use POST to switch the replay day")
                try:
                    self.set_day(int(match.group(1)))
                except ValueError as exc:
                    raise HTTPProblem(404, str(exc)) from exc
                return Answer.json(self.status())
            if method != "GET":
                raise HTTPProblem(405, f"{method} is not supported on {path}")
            params = single_params(parts.query)
            day = self.day
            if path == "/api/v2/version":
                return Answer.json(
                    {
                        "apiVersion": self.registry.api_version,
                        "dataTimestamp": self.registry.days[day].data_timestamp,
                    }
                )
            if path == "/api/v2/studies":
                return Answer.json(self.search(day, params))
            if match := re.fullmatch(r"/api/v2/studies/([^/]+)", path):
                return self.study(day, match.group(1), params, parts.query)
            if match := re.fullmatch(r"/api/int/studies/([^/]+)(/history(?:/(\d+))?)?", path):
                return self.history(day, match.group(1), match.group(2), match.group(3), params)
            raise HTTPProblem(404, f"{path} is not served by the replay registry")
        except HTTPProblem as problem:
            return Answer.text(problem.status, problem.message)

    def study(self, day: int, raw_id: str, params: dict[str, str], query: str) -> Answer:
        unknown = set(params) - {"format", "markupFormat", "fields"}
        if unknown:
            raise HTTPProblem(400, f"Unknown parameter(s): {', '.join(sorted(unknown))}")
        self._check_format(params)
        nct_id = canonical_nct(raw_id)
        served = self.registry.current(day, nct_id)
        if served is None:
            canonical = self.registry.canonical_id(nct_id)
            if canonical and self.registry.current(day, canonical):
                location = f"/api/v2/studies/{canonical}" + (f"?{query}" if query else "")
                return Answer.text(301, f"Moved to {location}", {"Location": location})
            raise HTTPProblem(404, f"Study {nct_id} not found")
        body = served.body
        if params.get("fields"):
            body = project(body, projection(params["fields"]))
        return Answer.json(body)

    @staticmethod
    def _check_format(params: dict[str, str]) -> None:
        if params.get("format", "json") != "json":
            raise HTTPProblem(
                400, f"format={params['format']} is not supported by the replay registry (json only)"
            )
        if params.get("markupFormat", "markdown") != "markdown":
            raise HTTPProblem(400, "markupFormat=legacy is not supported by the replay registry")

    def search(self, day: int, params: dict[str, str]) -> dict[str, Any]:
        for name in params:
            if name in KNOWN_UNSUPPORTED_PARAMS or name.startswith(("postFilter.", "aggFilters")):
                raise HTTPProblem(400, f"Parameter {name} is not supported by the replay registry")
            if name not in SUPPORTED_STUDIES_PARAMS:
                raise HTTPProblem(400, f"Unknown parameter: {name}")
        self._check_format(params)
        page_size = self._page_size(params.get("pageSize"))
        count_total = params.get("countTotal", "false").lower()
        if count_total not in ("true", "false"):
            raise HTTPProblem(400, f"Invalid value in parameter countTotal: {params['countTotal']!r}")
        key = _paging_key(params)
        offset = 0
        if "pageToken" in params:
            token_key, offset = decode_token(params["pageToken"])
            if token_key != key:
                raise HTTPProblem(
                    400,
                    "Parameters differ from the request that produced pageToken; repeat the first request's "
                    "parameters except pageToken, pageSize and countTotal",
                )
        trie = projection(params["fields"]) if params.get("fields") else None
        matches = self._matching(day, params)
        page = matches[offset : offset + page_size]
        answer: dict[str, Any] = {}
        if count_total == "true" and "pageToken" not in params:
            answer["totalCount"] = len(matches)
        answer["studies"] = [project(s.body, trie) if trie else s.body for s in page]
        if len(page) == page_size:  # like the real API: a full page always carries a token
            answer["nextPageToken"] = encode_token(key, offset + page_size)
        return answer

    @staticmethod
    def _page_size(raw: str | None) -> int:
        if raw in (None, "", "0"):
            return DEFAULT_PAGE_SIZE
        try:
            size = int(raw)
        except ValueError:
            raise HTTPProblem(400, f"Invalid value in parameter pageSize: {raw!r}") from None
        if size < 0:
            raise HTTPProblem(400, f"Invalid value in parameter pageSize: {raw!r}")
        return min(size, MAX_PAGE_SIZE)

    def _matching(self, day: int, params: dict[str, str]) -> list[ServedVersion]:
        candidates = self.registry.current_all(day)
        if params.get("filter.ids"):
            wanted = set()
            for raw in re.split(r"[,|]", params["filter.ids"]):
                raw = raw.strip()
                if raw:
                    try:
                        wanted.add(canonical_nct(raw))
                    except HTTPProblem:
                        raise HTTPProblem(400, f"Invalid value in parameter filter.ids: {raw!r}") from None
            candidates = [s for s in candidates if wanted & self._ids_of(s)]
        if params.get("filter.advanced"):
            accepts = advanced_filter(params["filter.advanced"])
            candidates = [s for s in candidates if accepts(s.body)]
        if params.get("filter.overallStatus"):
            statuses = {value.strip().upper() for value in re.split(r"[,|]", params["filter.overallStatus"])}
            bad = statuses - set(OVERALL_STATUSES)
            if bad:
                raise HTTPProblem(
                    400, f"Invalid value in parameter filter.overallStatus: {', '.join(sorted(bad))}"
                )
            candidates = [s for s in candidates if s.change_entry["status"] in statuses]
        for area in QUERY_AREAS:
            value = params.get(f"query.{area}")
            if value:
                needed = set(query_words(f"query.{area}", value))
                candidates = [s for s in candidates if needed <= self.registry.tokens(s, area)]
        return candidates

    @staticmethod
    def _ids_of(served: ServedVersion) -> set[str]:
        ident = served.body.get("protocolSection", {}).get("identificationModule", {})
        return {served.nct_id} | {str(alias).upper() for alias in ident.get("nctIdAliases", []) or []}

    def history(
        self, day: int, raw_id: str, history_part: str | None, version: str | None, params: dict[str, str]
    ) -> Answer:
        nct_id = canonical_nct(raw_id)
        versions = self.registry.versions(day, nct_id)
        if not versions:
            raise HTTPProblem(404, f"Study {nct_id} not found")
        if history_part is None:
            body = copy.deepcopy(versions[-1].body)
            if params.get("history", "false").lower() == "true":
                body["history"] = {"changes": [v.change_entry for v in versions]}
            return Answer.json(body)
        if version is None:
            return Answer.json({"changes": [v.change_entry for v in versions]})
        wanted = int(version)
        for served in versions:
            if served.version == wanted:
                return Answer.json({"studyVersion": wanted, "study": served.body})
        raise HTTPProblem(404, f"Study {nct_id} has no version {wanted}")


# ----------------------------------------------------------------------------- faults and HTTP


@dataclass
class Fault:
    """An answer to give instead of the real one, ``times`` times (None: until cleared)."""

    pattern: re.Pattern[str]
    status: int
    times: int | None
    body: bytes
    content_type: str
    headers: dict[str, str]
    drop_connection: bool
    hits: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API: the client holds one connection
    server_version = "trialwatch-replay"
    timeout = 15  # an idle keep-alive connection frees its thread after this

    @property
    def replay_server(self) -> ReplayServer:
        return self.server.replay_server  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._serve("POST")

    def _serve(self, method: str) -> None:
        owner = self.replay_server
        admin = self.path.startswith("/_replay/")
        if not admin:
            owner.record(method, self.path)
            fault = owner.take_fault(self.path)
            if fault is not None:
                if fault.drop_connection:
                    self.close_connection = True
                    return
                self._send(Answer(fault.status, fault.body, fault.content_type, dict(fault.headers)))
                return
        self._send(owner.replay.answer(method, self.path))

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class ReplayServer:
    """A running replay registry on a loopback port; use as a context manager or call ``close()``."""

    def __init__(
        self, registry: ReplayRegistry, host: str = "127.0.0.1", port: int = 0, day: int = 1
    ) -> None:
        self.replay = Replay(registry, day)
        self.requests: list[tuple[str, str]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.replay_server = self  # type: ignore[attr-defined]
        # A short poll keeps close() quick; the loop is idle otherwise.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="replay-registry",
            daemon=True,
        )
        self._thread.start()

    @property
    def root_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/api/v2"

    @property
    def day(self) -> int:
        return self.replay.day

    @property
    def data_timestamp(self) -> str:
        """The ``/version`` dataTimestamp of the day being served."""
        return self.replay.registry.days[self.day].data_timestamp

    def set_day(self, day: int) -> None:
        self.replay.set_day(day)

    def inject(
        self,
        path_regex: str,
        status: int = 503,
        *,
        times: int | None = 1,
        body: str | bytes | None = None,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
        drop_connection: bool = False,
    ) -> Fault:
        """Answer requests whose path+query matches ``path_regex`` (re.search) with this instead."""
        if body is None:
            body = f"injected HTTP {status}"
        fault = Fault(
            pattern=re.compile(path_regex),
            status=status,
            times=times,
            body=body.encode("utf-8") if isinstance(body, str) else body,
            content_type=content_type,
            headers=dict(headers or {}),
            drop_connection=drop_connection,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(target):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def record(self, method: str, target: str) -> None:
        with self._lock:
            self.requests.append((method, target))

    def requests_to(self, path_regex: str) -> list[str]:
        """The request targets (path+query) seen so far that match ``path_regex``."""
        pattern = re.compile(path_regex)
        with self._lock:
            return [target for _, target in self.requests if pattern.search(target)]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve(host: str = "127.0.0.1", port: int = 0, day: int = 1, data_dir: Path | None = None) -> ReplayServer:
    """Start a replay registry in a background thread (port 0 = any free port)."""
    return ReplayServer(ReplayRegistry(data_dir), host=host, port=port, day=day)
