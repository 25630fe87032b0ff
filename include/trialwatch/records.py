"""Study records: identity, the study model, noise rules, the canonical form and the content hash.

The hash decides whether a fetched record is a new version at all, so it is taken over a canonical
form that leaves out everything that changes without a sponsor edit: bookkeeping fields
(``derivedSection``, ``versionHolder``, last-update dates), the order of lists whose order means
nothing, and whitespace or markup style in texts. The diff compares the same canonical form, so a
change the hash ignores can never raise an event.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

NCT_RE = re.compile(r"\bNCT\d{8}\b", re.IGNORECASE)

# The API v2 study model (from the registry's /studies/metadata field tree), one module per line:
# ``name{children}`` nests, a trailing ``~`` marks a markup text. Keeping it here lets the canonical
# form and the field catalog agree on which fields exist without reading anything at run time.
STUDY_MODEL = """
protocolSection.identificationModule: nctId nctIdAliases orgStudyIdInfo{id type link}
  secondaryIdInfos{id type domain link} briefTitle officialTitle acronym organization{fullName class}
protocolSection.statusModule: statusVerifiedDate overallStatus lastKnownStatus delayedPosting whyStopped~
  expandedAccessInfo{hasExpandedAccess nctId statusForNctId} startDateStruct{date type}
  primaryCompletionDateStruct{date type} completionDateStruct{date type} studyFirstSubmitDate
  studyFirstSubmitQcDate studyFirstPostDateStruct{date type} resultsWaived resultsFirstSubmitDate
  resultsFirstSubmitQcDate resultsFirstPostDateStruct{date type} dispFirstSubmitDate dispFirstSubmitQcDate
  dispFirstPostDateStruct{date type} lastUpdateSubmitDate lastUpdatePostDateStruct{date type}
protocolSection.sponsorCollaboratorsModule: responsibleParty{type investigatorFullName investigatorTitle
  investigatorAffiliation oldNameTitle oldOrganization} leadSponsor{name class} collaborators{name class}
protocolSection.oversightModule: oversightHasDmc isFdaRegulatedDrug isFdaRegulatedDevice isUnapprovedDevice
  isPpsd isUsExport fdaaa801Violation
protocolSection.descriptionModule: briefSummary~ detailedDescription~
protocolSection.conditionsModule: conditions keywords
protocolSection.designModule: studyType nPtrsToThisExpAccNctId expandedAccessTypes{individual intermediate
  treatment} patientRegistry targetDuration phases designInfo{allocation interventionModel
  interventionModelDescription~ primaryPurpose observationalModel timePerspective maskingInfo{masking
  maskingDescription~ whoMasked}} bioSpec{retention description~} enrollmentInfo{count type}
protocolSection.armsInterventionsModule: armGroups{label type description~ interventionNames}
  interventions{type name description~ armGroupLabels otherNames}
protocolSection.outcomesModule: primaryOutcomes{measure description~ timeFrame}
  secondaryOutcomes{measure description~ timeFrame} otherOutcomes{measure description~ timeFrame}
protocolSection.eligibilityModule: eligibilityCriteria~ healthyVolunteers sex genderBased genderDescription~
  minimumAge maximumAge stdAges studyPopulation~ samplingMethod
protocolSection.contactsLocationsModule: centralContacts{name role phone phoneExt email}
  overallOfficials{name affiliation role} locations{facility status city state zip country
  contacts{name role phone phoneExt email} geoPoint{lat lon}}
protocolSection.referencesModule: references{pmid type citation retractions{pmid source}}
  seeAlsoLinks{label~ url} availIpds{id type url comment~}
protocolSection.ipdSharingStatementModule: ipdSharing description~ infoTypes timeFrame~ accessCriteria~ url
resultsSection.participantFlowModule: preAssignmentDetails~ recruitmentDetails~ typeUnitsAnalyzed
  groups{id title description~} periods{title milestones{type comment~ achievements{groupId comment~
  numSubjects numUnits}} dropWithdraws{type comment~ reasons{groupId comment~ numSubjects}}}
resultsSection.baselineCharacteristicsModule: populationDescription~ typeUnitsAnalyzed
  groups{id title description~} denoms{units counts{groupId value}} measures{title description~
  populationDescription~ paramType dispersionType unitOfMeasure calculatePct denomUnitsSelected
  denoms{units counts{groupId value}} classes{title denoms{units counts{groupId value}}
  categories{title measurements{groupId value spread lowerLimit upperLimit comment~}}}}
resultsSection.outcomeMeasuresModule: outcomeMeasures{type title description~ populationDescription~
  reportingStatus anticipatedPostingDate paramType dispersionType unitOfMeasure calculatePct timeFrame
  typeUnitsAnalyzed denomUnitsSelected groups{id title description~} denoms{units counts{groupId value}}
  classes{title denoms{units counts{groupId value}} categories{title measurements{groupId value spread
  lowerLimit upperLimit comment~}}} analyses{paramType paramValue dispersionType dispersionValue
  statisticalMethod statisticalComment~ pValue pValueComment~ ciNumSides ciPctValue ciLowerLimit
  ciUpperLimit ciLowerLimitComment~ ciUpperLimitComment~ estimateComment~ testedNonInferiority
  nonInferiorityType nonInferiorityComment~ otherAnalysisDescription~ groupDescription~ groupIds}}
resultsSection.adverseEventsModule: frequencyThreshold timeFrame description~ allCauseMortalityComment~
  eventGroups{id title description~ deathsNumAffected deathsNumAtRisk seriousNumAffected seriousNumAtRisk
  otherNumAffected otherNumAtRisk} seriousEvents{term organSystem sourceVocabulary assessmentType notes~
  stats{groupId numEvents numAffected numAtRisk}} otherEvents{term organSystem sourceVocabulary
  assessmentType notes~ stats{groupId numEvents numAffected numAtRisk}}
resultsSection.moreInfoModule: limitationsAndCaveats{description~} certainAgreement{piSponsorEmployee
  restrictionType restrictiveAgreement otherDetails~} pointOfContact{title organization email phone phoneExt}
annotationSection.annotationModule: unpostedAnnotation{unpostedResponsibleParty unpostedEvents{type date
  dateUnknown}} violationAnnotation{violationEvents{type description creationDate issuedDate releaseDate
  postedDate}}
documentSection.largeDocumentModule: noSap largeDocs{typeAbbrev hasProtocol hasSap hasIcf label date
  uploadDate filename size}
derivedSection.miscInfoModule: versionHolder removedCountries submissionTracking{
  estimatedResultsFirstSubmitDate firstMcpInfo{postDateStruct{date type}} submissionInfos{releaseDate
  unreleaseDate unreleaseDateUnknown resetDate mcpReleaseN}}
derivedSection.conditionBrowseModule: meshes{id term} ancestors{id term}
  browseLeaves{id name asFound relevance} browseBranches{abbrev name}
derivedSection.interventionBrowseModule: meshes{id term} ancestors{id term}
  browseLeaves{id name asFound relevance} browseBranches{abbrev name}
hasResults
"""


def _parse_model(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(every field path, the markup-text paths) of ``STUDY_MODEL``."""
    paths: set[str] = set()
    markup: set[str] = set()
    entries = re.split(r"\n(?=\S)", text.strip())
    for entry in entries:
        head, _, body = entry.partition(":")
        head = head.strip()
        parts = head.split(".")
        for i in range(1, len(parts) + 1):
            paths.add(".".join(parts[:i]))
        stack = [head]
        last = head
        for token in re.findall(r"[A-Za-z0-9]+~?|[{}]", body):
            if token == "{":
                stack.append(last)
            elif token == "}":
                stack.pop()
            else:
                name = token.rstrip("~")
                last = f"{stack[-1]}.{name}"
                paths.add(last)
                if token.endswith("~"):
                    markup.add(last)
    return frozenset(paths), frozenset(markup)


MODEL_PATHS, MARKUP_PATHS = _parse_model(STUDY_MODEL)

# Paths (dotted, list positions left out) whose changes are bookkeeping or computed by the registry,
# never a sponsor's edit. They are left out of the canonical form, the hash and the diff.
NOISE_PATHS: tuple[str, ...] = (
    "derivedSection",
    "protocolSection.statusModule.lastUpdateSubmitDate",
    "protocolSection.statusModule.lastUpdatePostDateStruct",
    "protocolSection.statusModule.statusVerifiedDate",
    # Geocoded by the registry from the address; re-geocoding is not an edit.
    "protocolSection.contactsLocationsModule.locations.geoPoint",
    # Computed from the stored file; a replaced document shows in its name and upload date.
    "documentSection.largeDocumentModule.largeDocs.size",
)

# Lists whose order means nothing, with the fields that identify one item (empty for lists of plain
# values). The canonical form sorts them by identity; the diff matches their items by it.
UNORDERED_LISTS: dict[str, tuple[str, ...]] = {
    "protocolSection.identificationModule.nctIdAliases": (),
    "protocolSection.identificationModule.secondaryIdInfos": ("id", "type"),
    "protocolSection.sponsorCollaboratorsModule.collaborators": ("name",),
    "protocolSection.conditionsModule.conditions": (),
    "protocolSection.conditionsModule.keywords": (),
    "protocolSection.designModule.phases": (),
    "protocolSection.designModule.designInfo.maskingInfo.whoMasked": (),
    "protocolSection.armsInterventionsModule.armGroups": ("label",),
    "protocolSection.armsInterventionsModule.armGroups.interventionNames": (),
    "protocolSection.armsInterventionsModule.interventions": ("name", "type"),
    "protocolSection.armsInterventionsModule.interventions.armGroupLabels": (),
    "protocolSection.armsInterventionsModule.interventions.otherNames": (),
    "protocolSection.outcomesModule.primaryOutcomes": ("measure",),
    "protocolSection.outcomesModule.secondaryOutcomes": ("measure",),
    "protocolSection.outcomesModule.otherOutcomes": ("measure",),
    "protocolSection.eligibilityModule.stdAges": (),
    "protocolSection.contactsLocationsModule.centralContacts": ("name",),
    "protocolSection.contactsLocationsModule.overallOfficials": ("name",),
    "protocolSection.contactsLocationsModule.locations": ("facility", "city", "country"),
    "protocolSection.contactsLocationsModule.locations.contacts": ("name",),
    "protocolSection.referencesModule.references": ("pmid", "citation"),
    "protocolSection.referencesModule.references.retractions": ("pmid",),
    "protocolSection.referencesModule.seeAlsoLinks": ("url",),
    "protocolSection.referencesModule.availIpds": ("id", "type"),
    "protocolSection.ipdSharingStatementModule.infoTypes": (),
    "resultsSection.participantFlowModule.groups": ("id",),
    "resultsSection.participantFlowModule.periods.milestones.achievements": ("groupId",),
    "resultsSection.participantFlowModule.periods.dropWithdraws.reasons": ("groupId",),
    "resultsSection.baselineCharacteristicsModule.groups": ("id",),
    "resultsSection.baselineCharacteristicsModule.denoms.counts": ("groupId",),
    "resultsSection.baselineCharacteristicsModule.measures.denoms.counts": ("groupId",),
    "resultsSection.baselineCharacteristicsModule.measures.classes.denoms.counts": ("groupId",),
    "resultsSection.baselineCharacteristicsModule.measures.classes.categories.measurements": ("groupId",),
    "resultsSection.outcomeMeasuresModule.outcomeMeasures.groups": ("id",),
    "resultsSection.outcomeMeasuresModule.outcomeMeasures.denoms.counts": ("groupId",),
    "resultsSection.outcomeMeasuresModule.outcomeMeasures.classes.denoms.counts": ("groupId",),
    "resultsSection.outcomeMeasuresModule.outcomeMeasures.classes.categories.measurements": ("groupId",),
    "resultsSection.outcomeMeasuresModule.outcomeMeasures.analyses.groupIds": (),
    "resultsSection.adverseEventsModule.eventGroups": ("id",),
    "resultsSection.adverseEventsModule.seriousEvents": ("term", "organSystem"),
    "resultsSection.adverseEventsModule.seriousEvents.stats": ("groupId",),
    "resultsSection.adverseEventsModule.otherEvents": ("term", "organSystem"),
    "resultsSection.adverseEventsModule.otherEvents.stats": ("groupId",),
    "annotationSection.annotationModule.unpostedAnnotation.unpostedEvents": ("type", "date"),
    "annotationSection.annotationModule.violationAnnotation.violationEvents": ("type", "creationDate"),
    "documentSection.largeDocumentModule.largeDocs": ("filename",),
}

CRITERIA_PATH = "protocolSection.eligibilityModule.eligibilityCriteria"

# Structures the registry adds or drops with their default value: their appearing or disappearing is
# bookkeeping, not an edit, so the canonical form leaves them out when they hold exactly this value.
# A phase of "NA" (not applicable) says what no phase says: the registry printed it for observational
# studies until 2018 and dropped it then, with no edit by the sponsor.
DEFAULT_VALUES: dict[str, Any] = {
    "protocolSection.statusModule.expandedAccessInfo": {"hasExpandedAccess": False},
    "protocolSection.designModule.phases": ["NA"],
}

SITES_PATH = "protocolSection.contactsLocationsModule.locations"
REFERENCES_PATH = "protocolSection.referencesModule.references"

# Above this many characters a text is kept whole (whitespace squashed) in the canonical form and
# the diff reports its size change instead of comparing items or words. Real texts stay far below
# (the longest eligibility text in the samples is 7 kB); an item-by-item comparison of a text this
# long is already a second or more, and grows with the square of its length.
HUGE_TEXT_CHARS = 32_000

ENROLLMENT_UNKNOWN = 99999999  # the registry's sentinel for "enrollment not known"


class MalformedRecord(ValueError):
    """A registry answer that is not a study object we can store."""


def nct_id_of(study: dict[str, Any]) -> str:
    try:
        nct_id = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError) as exc:
        raise MalformedRecord("study record has no protocolSection.identificationModule.nctId") from exc
    if not isinstance(nct_id, str) or not NCT_RE.fullmatch(nct_id):
        raise MalformedRecord(f"study record has an invalid nctId {nct_id!r}")
    return nct_id.upper()


SECTIONS = ("protocolSection", "resultsSection", "annotationSection", "documentSection", "derivedSection")


def check_study(study: Any) -> str:
    """The record's NCT id, after checking the shape everything downstream relies on.

    Raises MalformedRecord naming the record and the part that is wrong, so a bad record is reported
    and skipped instead of failing somewhere deep in the diff.
    """
    if not isinstance(study, dict):
        raise MalformedRecord(f"a study record must be a JSON object, got {type(study).__name__}")
    nct_id = nct_id_of(study)
    for section in SECTIONS:
        value = study.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise MalformedRecord(f"{nct_id}: {section} is a {type(value).__name__}, expected an object")
        for module, content in value.items():
            if not isinstance(content, dict):
                raise MalformedRecord(
                    f"{nct_id}: {section}.{module} is a {type(content).__name__}, expected an object"
                )
    return nct_id


def extract_nct_ids(text: str) -> list[str]:
    """NCT ids in any text (bare ids or study URLs), upper-cased, first occurrence order, no repeats."""
    seen: dict[str, None] = {}
    for match in NCT_RE.finditer(text or ""):
        seen.setdefault(match.group(0).upper(), None)
    return list(seen)


# --- texts -------------------------------------------------------------------------------------------

_LIST_MARKER = r"[ \t]*(?:[-*+•·▪◦]|\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})[.)])[ \t]+"
_LIST_MARKER_RE = re.compile(_LIST_MARKER)  # at a text's start
# After a line break: the literal "\n" lets the regex engine jump from break to break instead of
# trying every position, as "^" with re.MULTILINE does (same matches: a marker never holds "\n").
_LINE_MARKER_RE = re.compile("\n" + _LIST_MARKER)
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~^=])")
_EMPHASIS_RE = re.compile(r"\*+|(?<![0-9A-Za-z])_+|_+(?![0-9A-Za-z])")


def squash_whitespace(text: str) -> str:
    """``text`` with runs of whitespace as one space and no space at the ends (cheap when already so)."""
    if (
        "  " in text
        or "\n" in text
        or "\t" in text
        or "\r" in text
        or "\xa0" in text
        or text[:1].isspace()
        or text[-1:].isspace()
    ):
        return " ".join(text.split())
    return text


def normalize_markup(text: str) -> str:
    """A markup text reduced to its words: list markers as "-", no emphasis, no escapes, single spaces.

    Two texts that differ only in whitespace, line breaks, bullet or numbering style, emphasis or
    backslash escapes normalise to the same string.
    """
    first = _LIST_MARKER_RE.match(text)
    if first is not None:
        text = "- " + text[first.end() :]
    if "\n" in text:
        text = _LINE_MARKER_RE.sub("\n- ", text)
    if "\\" in text:
        text = _ESCAPE_RE.sub(r"\1", text)
    if "*" in text or "_" in text:  # the emphasis pattern is slow to scan for; most texts have none
        text = _EMPHASIS_RE.sub("", text)
    return " ".join(text.split())


# Letters that show up when UTF-8 bytes were read as Latin-1 or Windows-1252 (mojibake).
_MOJIBAKE_HINTS = frozenset("ÃÂâÅÄÐÑØÙ€™œ")


def repair_text(text: str) -> str:
    """``text`` in Unicode NFC form, with Latin-1/Windows-1252 mojibake undone ("HÃ´pital" → "Hôpital").

    The registry re-encodes names between fetches; the repaired text is the one the sponsor typed.
    A round trip that fails or does not shorten the text leaves it alone. NFC composes decomposed
    accents but keeps what a reader needs to see ("m²", "µg"); matching keys go further (NFKC,
    ``text_skeleton``). ASCII costs one check.
    """
    if text.isascii():
        return text
    if not _MOJIBAKE_HINTS.isdisjoint(text):
        for codec in ("cp1252", "latin-1"):
            try:
                fixed = text.encode(codec).decode("utf-8")
            except UnicodeError:
                continue
            if len(fixed) < len(text):
                text = fixed
                break
    return unicodedata.normalize("NFC", text)


_NOT_ALNUM_RE = re.compile(r"[^0-9a-z]+")


def text_skeleton(value: Any) -> str:
    """The letters and digits a name keeps through every re-encoding the registry applies.

    Case, punctuation, spacing and every non-ASCII letter are left out, so "Hôpital", "HÃ´pital",
    "Hăpital", 'Hă"Pital' and "St John?s" / "St John's" pairs each fold to one skeleton. Used to
    match items, never to show them.
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", repair_text(value)) if isinstance(value, str) else str(value)
    return _NOT_ALNUM_RE.sub("", text.casefold().encode("ascii", "ignore").decode("ascii"))


def site_key(site: dict[str, Any]) -> tuple[str, ...]:
    """A site's identity across versions: facility, city, postal code and country, each as a skeleton."""
    return tuple(text_skeleton(site.get(name)) for name in ("facility", "city", "zip", "country"))


_DOI_RE = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+", re.IGNORECASE)


def reference_key(reference: dict[str, Any]) -> tuple[str, ...]:
    """A reference's identity: its PMID, else the DOI in its citation, else the citation's skeleton."""
    pmid = str(reference.get("pmid") or "").strip()
    if pmid:
        return ("pmid", pmid)
    citation = reference.get("citation") or ""
    doi = _DOI_RE.search(citation) if isinstance(citation, str) else None
    if doi:
        return ("doi", doi.group(0).rstrip(".,;").casefold())
    return ("citation", text_skeleton(citation))


# Lists whose items have an identity richer than a tuple of field values.
ITEM_KEYS: dict[str, Any] = {SITES_PATH: site_key, REFERENCES_PATH: reference_key}


def item_key(path: str, item: Any) -> tuple[str, ...]:
    """How an item of the unordered list at ``path`` is recognised across versions."""
    special = ITEM_KEYS.get(path)
    if special is not None and isinstance(item, dict):
        return special(item)  # type: ignore[no-any-return]
    return identity_key(item, UNORDERED_LISTS.get(path, ()))


# "Inclusion criteria", or a longer lead-in ending in a colon ("For inclusion in the study subjects
# should fulfill the following criteria:"); a long line without the colon is more likely an item.
_HEADING_RE = re.compile(
    r"^(?:[\w ,/()'-]{0,60}\bcriteria\b\s*:?|[\w ,/()'-]{0,100}\bcriteria\b\s*:)$", re.IGNORECASE
)
_NON_INCLUSION_RE = re.compile(r"\bnon[- ]?inclusion\b", re.IGNORECASE)  # French usage: exclusion
_ITEM_START_RE = re.compile(r"^[ \t]*(?:[-*+•·▪◦]|\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})[.)])[ \t]+")


def _heading_section(line: str) -> str | None:
    if not _HEADING_RE.match(line):
        return None
    lowered = _NON_INCLUSION_RE.sub("exclusion", line.lower())
    has_in, has_ex = "inclusion" in lowered, "exclusion" in lowered
    if has_in and not has_ex:
        return "inclusion"
    if has_ex and not has_in:
        return "exclusion"
    return "criteria"


def parse_criteria(text: str) -> dict[str, list[str]]:
    """Eligibility criteria text → {"inclusion"|"exclusion"|"criteria": [item, ...]}, items normalised.

    A line starting with a bullet or a number opens an item; an unmarked line continues the item
    right above it, or stands alone after a blank line. "Inclusion Criteria:"-style headings switch
    the section; text before any heading belongs to "criteria".
    """
    sections: dict[str, list[str]] = {}
    section = "criteria"
    current: list[str] | None = None
    for raw in text.splitlines():
        if not raw.strip():
            current = None
            continue
        marker = _ITEM_START_RE.match(raw)
        body = normalize_markup(raw[marker.end() :] if marker else raw)
        if not body:
            continue
        if not marker:
            heading = _heading_section(body)
            if heading is not None:
                section, current = heading, None
                continue
            if current is not None:
                current.append(body)
                continue
        current = [body]
        sections.setdefault(section, []).append(current)  # type: ignore[arg-type]
    return {name: [" ".join(parts) for parts in items] for name, items in sections.items()}  # type: ignore[misc]


# --- the canonical form -------------------------------------------------------------------------------


@dataclass
class _Shape:
    """What the canonical form does at one path: children, dropped keys, text rule, list order."""

    children: dict[str, _Shape] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    markup: bool = False
    criteria: bool = False
    identity: tuple[str, ...] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # child key → its bookkeeping default


def _build_shapes() -> _Shape:
    root = _Shape()

    def node(path: str) -> _Shape:
        current = root
        for key in path.split("."):
            current = current.children.setdefault(key, _Shape())
        return current

    for path in MARKUP_PATHS:
        node(path).markup = True
    node(CRITERIA_PATH).criteria = True
    for path, identity in UNORDERED_LISTS.items():
        node(path).identity = identity
    for path in NOISE_PATHS:
        parent, _, leaf = path.rpartition(".")
        target = node(parent) if parent else root
        target.drop = target.drop | {leaf}
    for path, default in DEFAULT_VALUES.items():
        parent, _, leaf = path.rpartition(".")
        node(parent).defaults[leaf] = default
    return root


_ROOT_SHAPE = _build_shapes()
_NO_SHAPE = _Shape()


def identity_key(item: Any, identity: tuple[str, ...]) -> tuple[str, ...]:
    """How an item of an unordered list is recognised across versions (case and spacing ignored)."""
    if not identity or not isinstance(item, dict):
        return (_fold(item),)
    return tuple(_fold(item.get(name)) for name in identity)


def _fold(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _full_text(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def _sort_items(items: list[Any], identity: tuple[str, ...]) -> None:
    """Sort ``items`` in place by (identity key, full JSON text), the JSON only where keys tie.

    Same order as sorting by the pair: the sort is stable, and the full text, costly to make for
    every item, only decides between items whose identity is equal.
    """
    if not identity:
        items.sort(key=_fold)
        return
    keys = [identity_key(item, identity) for item in items]
    order = sorted(range(len(items)), key=keys.__getitem__)
    ordered = [items[i] for i in order]
    if len(set(keys)) < len(keys):
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and keys[order[end]] == keys[order[start]]:
                end += 1
            if end - start > 1:
                ordered[start:end] = sorted(ordered[start:end], key=_full_text)
            start = end
    items[:] = ordered


# Canonical texts by raw text, one table per text rule. A changed record is put in canonical form
# twice (the fetched and the stored version), and most of its texts are the same in both; names
# and labels repeat within one record too. Bounded: a full table starts over.
_TEXT_CACHE_MAX = 50_000
_PLAIN_TEXTS: dict[str, str] = {}
_MARKUP_TEXTS: dict[str, str] = {}
_CRITERIA_TEXTS: dict[str, dict[str, list[str]]] = {}


def clear_caches() -> None:
    """Forget every memoised canonical text (for benchmarks that time a cold start)."""
    _PLAIN_TEXTS.clear()
    _MARKUP_TEXTS.clear()
    _CRITERIA_TEXTS.clear()


def _canon_text(value: str, shape: _Shape) -> Any:
    if shape.criteria:
        criteria = _CRITERIA_TEXTS.get(value)
        if criteria is None:
            if len(value) > HUGE_TEXT_CHARS:
                return squash_whitespace(value)  # too long for item and markup rules: compared by size
            criteria = {name: sorted(items) for name, items in parse_criteria(repair_text(value)).items()}
            if len(_CRITERIA_TEXTS) >= _TEXT_CACHE_MAX:
                _CRITERIA_TEXTS.clear()
            _CRITERIA_TEXTS[value] = criteria
        return {name: list(items) for name, items in criteria.items()}  # callers may own their lists
    cache = _MARKUP_TEXTS if shape.markup else _PLAIN_TEXTS
    text = cache.get(value)
    if text is None:
        if len(value) > HUGE_TEXT_CHARS:
            return squash_whitespace(value)
        text = normalize_markup(repair_text(value)) if shape.markup else squash_whitespace(repair_text(value))
        if len(cache) >= _TEXT_CACHE_MAX:
            cache.clear()
        cache[value] = text
    return text


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def _canon(value: Any, shape: _Shape) -> Any:
    """Any value; JSON's own types take the fast paths below, anything else the general rules."""
    if isinstance(value, str):
        return _canon_text(value, shape)
    if isinstance(value, dict):
        return _canon_dict(value, shape)
    if isinstance(value, list):
        return _canon_list(value, shape)
    return value


def _canon_dict(value: dict[str, Any], shape: _Shape) -> dict[str, Any]:
    children, drop, defaults = shape.children, shape.drop, shape.defaults
    canonical = {}
    for key, item in value.items():
        # null, empty and default-valued structures come and go as bookkeeping
        if item is None or key in drop or (defaults and key in defaults and item == defaults[key]):
            continue
        kind = type(item)
        if kind is str:
            child = children.get(key)
            if child is None:  # most texts: no rule of their own, and seen before
                text = _PLAIN_TEXTS.get(item)
                canonical[key] = text if text is not None else _canon_text(item, _NO_SHAPE)
            else:
                text = _canon_text(item, child)
                if text != {}:  # criteria with no item
                    canonical[key] = text
        elif kind is dict:
            if item:
                child = _canon_dict(item, children.get(key, _NO_SHAPE))
                if child:
                    canonical[key] = child
        elif kind is list:
            if item:
                canonical[key] = _canon_list(item, children.get(key, _NO_SHAPE))
        elif kind is int or kind is float or kind is bool:
            canonical[key] = item
        elif not _is_empty(item):
            item = _canon(item, children.get(key, _NO_SHAPE))
            if not _is_empty(item):
                canonical[key] = item
    return canonical


def _canon_list(value: list[Any], shape: _Shape) -> list[Any]:
    items = []
    for item in value:
        kind = type(item)
        if kind is str:
            items.append(_canon_text(item, shape))
        elif kind is dict:
            items.append(_canon_dict(item, shape))
        else:
            items.append(_canon(item, shape))
    if shape.identity is not None and len(items) > 1:
        _sort_items(items, shape.identity)
    return items


def canonical_form(study: dict[str, Any]) -> dict[str, Any]:
    """The monitored content of ``study``: noise left out, unordered lists sorted, texts normalised.

    Eligibility criteria become {section: sorted items}; texts are repaired (``repair_text``); null,
    empty and default-valued structures (``DEFAULT_VALUES``) are left out. Two records with the same canonical form
    carry no change anyone should hear about.
    """
    if not isinstance(study, dict):
        raise MalformedRecord(f"a study record must be a JSON object, not {type(study).__name__}")
    return _canon(study, _ROOT_SHAPE)


def hash_canonical(canonical: dict[str, Any]) -> str:
    """SHA-256 of a canonical form (see ``canonical_form``)."""
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The quick hash reads a record's top-level members as served, in the registry's order, and leaves
# out only derivedSection: all noise, and where the versionHolder every data build moves lives.
# Reading whole members lets it work on the bytes of a page without decoding them (registry.served).
_ENCODE = msgspec.json.Encoder().encode
MEMBERS = (*SECTIONS, "hasResults")  # a study's top-level members, in the registry's order
_QUICK_LEFT_OUT = frozenset(path for path in NOISE_PATHS if "." not in path)
QUICK_MEMBERS = tuple(member for member in MEMBERS if member not in _QUICK_LEFT_OUT)
_QUICK_KNOWN = frozenset(QUICK_MEMBERS) | _QUICK_LEFT_OUT
_QUICK_KEYS = {key: _ENCODE(key) + b":" for key in QUICK_MEMBERS}


def quick_hash_of_members(members: Iterable[tuple[bytes, bytes | memoryview]]) -> str:
    """SHA-256 over (encoded key + ``:``, JSON value) pairs: each JSON value ends itself, so two
    different sequences never feed the same bytes."""
    digest = hashlib.sha256()
    for key, value in members:
        digest.update(key)
        digest.update(value)
    return digest.hexdigest()


def quick_member_key(key: str) -> bytes:
    return _QUICK_KEYS.get(key) or _ENCODE(key) + b":"


def quick_hash(study: dict[str, Any]) -> str:
    """A hash of the record as served (compact JSON), less derivedSection.

    Much cheaper than the canonical form. It drops only noise, and the encoding tells apart any two
    JSON values, so two records with the same quick hash have the same ``content_hash``; different
    quick hashes say nothing (compare canonically). For compact UTF-8 bytes as the registry serves
    them it equals ``registry.served``'s hash of the same bytes, which never decodes them.
    """
    members = [(_QUICK_KEYS[key], _ENCODE(study[key])) for key in QUICK_MEMBERS if key in study]
    members += [
        (quick_member_key(key), _ENCODE(value))
        for key, value in sorted(study.items())
        if key not in _QUICK_KNOWN
    ]
    return quick_hash_of_members(members)


def content_hash(study: dict[str, Any]) -> str:
    """SHA-256 over the monitored content: same hash means nothing worth a version changed."""
    return hash_canonical(canonical_form(study))


def strip_noise(study: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``study`` without the noise paths (list items included), otherwise unchanged."""
    clean = copy.deepcopy(study)
    _drop_noise(clean, _ROOT_SHAPE)
    return clean


def _drop_noise(value: Any, shape: _Shape) -> None:
    if isinstance(value, dict):
        for key in shape.drop:
            value.pop(key, None)
        for key, item in value.items():
            child = shape.children.get(key)
            if child is not None:
                _drop_noise(item, child)
    elif isinstance(value, list):
        for item in value:
            _drop_noise(item, shape)


# --- convenience readers ---------------------------------------------------------------------------------


# The current-state columns are typed; a registry value of the wrong type is shown as unknown there
# (the raw record keeps it) rather than failing the store on PostgreSQL.
STATUS_MAX_CHARS = 40


def brief_title(study: dict[str, Any]) -> str:
    ident = study.get("protocolSection", {}).get("identificationModule", {})
    title = ident.get("briefTitle") or ident.get("officialTitle") or ""
    return title if isinstance(title, str) else str(title)


def overall_status(study: dict[str, Any]) -> str | None:
    status = study.get("protocolSection", {}).get("statusModule", {}).get("overallStatus")
    return status if isinstance(status, str) and len(status) <= STATUS_MAX_CHARS else None


def last_update_posted(study: dict[str, Any]) -> str | None:
    """The date (yyyy-mm-dd, or yyyy-mm) the registry posted this version of the record, if it says."""
    status = (study.get("protocolSection") or {}).get("statusModule") or {}
    struct = status.get("lastUpdatePostDateStruct") if isinstance(status, dict) else None
    value = struct.get("date") if isinstance(struct, dict) else None
    return value if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value) else None


def enrollment(study: dict[str, Any]) -> tuple[int | None, str | None]:
    info = study.get("protocolSection", {}).get("designModule", {}).get("enrollmentInfo", {})
    count, kind = info.get("count"), info.get("type")
    count = count if isinstance(count, int) and not isinstance(count, bool) else None
    kind = kind if isinstance(kind, str) and len(kind) <= 20 else None
    return count, kind


@dataclass
class TrialInfo:
    """How a trial is named to a reader: its title and current overall status."""

    title: str = ""
    status: str | None = None


@dataclass(frozen=True)
class CurrentFacts:
    """The few fields of a current record a reader looks for first; absent ones stay None (or empty)."""

    phases: list[str]
    study_type: str | None
    lead_sponsor: str | None
    conditions: list[str]
    start_date: str | None
    primary_completion_date: str | None
    completion_date: str | None
    last_update_posted: str | None
    why_stopped: str | None


def current_facts(study: dict[str, Any] | None) -> CurrentFacts:
    """Those fields of ``study``; a date reads "2024-05 (actual)" when the registry gives its type."""
    protocol = (study or {}).get("protocolSection") or {}
    status = protocol.get("statusModule") or {}
    design = protocol.get("designModule") or {}
    sponsor = (protocol.get("sponsorCollaboratorsModule") or {}).get("leadSponsor") or {}

    def date_of(key: str) -> str | None:
        struct = status.get(key) or {}
        if not struct.get("date"):
            return None
        kind = struct.get("type")
        return f"{struct['date']} ({kind.lower()})" if kind else struct["date"]

    return CurrentFacts(
        phases=design.get("phases") or [],
        study_type=design.get("studyType"),
        lead_sponsor=sponsor.get("name"),
        conditions=(protocol.get("conditionsModule") or {}).get("conditions") or [],
        start_date=date_of("startDateStruct"),
        primary_completion_date=date_of("primaryCompletionDateStruct"),
        completion_date=date_of("completionDateStruct"),
        last_update_posted=date_of("lastUpdatePostDateStruct"),
        why_stopped=status.get("whyStopped"),
    )
