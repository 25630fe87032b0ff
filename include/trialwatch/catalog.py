"""The field catalog: for every path of the API v2 study model, its category, label and severity rule.

This is the single place that decides how a change is classified and how loud it is; the diff
only measures (old, new, percent, days) and asks here. A path the catalog does not know is still
reported, as category ``other`` with severity ``info``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from trialwatch.events import CATEGORIES, SEVERITIES, SEVERITY_RANK
from trialwatch.records import MODEL_PATHS

OVERALL_STATUSES: tuple[str, ...] = (
    "ACTIVE_NOT_RECRUITING",
    "COMPLETED",
    "ENROLLING_BY_INVITATION",
    "NOT_YET_RECRUITING",
    "RECRUITING",
    "SUSPENDED",
    "TERMINATED",
    "WITHDRAWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
    "UNKNOWN",
)

# Where a trial is in its life, in order; rules compare against these (docs/change-rules.md).
STAGES: tuple[str, ...] = ("not_yet_recruiting", "recruiting", "active", "ended")
NOT_YET_RECRUITING, RECRUITING, ACTIVE, ENDED = range(len(STAGES))
_STATUS_STAGE: dict[str, int] = {
    "NOT_YET_RECRUITING": NOT_YET_RECRUITING,
    "WITHDRAWN": NOT_YET_RECRUITING,  # withdrawn before enrolling anyone
    "RECRUITING": RECRUITING,
    "ENROLLING_BY_INVITATION": RECRUITING,
    "ACTIVE_NOT_RECRUITING": ACTIVE,
    "SUSPENDED": ACTIVE,
    "COMPLETED": ENDED,
    "TERMINATED": ENDED,
}

# Status steps every trial takes on its way forward: minor. Anything else (re-opening, suspension,
# termination, withdrawal, unknown) stays major or critical.
FORWARD_STEPS: frozenset[tuple[str, str]] = frozenset(
    {
        ("NOT_YET_RECRUITING", "RECRUITING"),
        ("NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"),
        ("NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING"),
        ("RECRUITING", "COMPLETED"),
        ("ENROLLING_BY_INVITATION", "COMPLETED"),
        ("ACTIVE_NOT_RECRUITING", "COMPLETED"),
    }
)

# A completion or primary-completion date moving this far is major whatever the watchlist's limits.
SLIP_MAJOR_DAYS = 365
# Eligibility criteria whose words changed by at least this share (1 - word-level difflib ratio of
# the normalised items) are reported as rewritten, major. Measured on the 15 real criteria texts of
# the samples (benchmarks/eligibility_share.py): one criterion added, dropped or reworded changes at
# most 10.4 % (median 1.6-2.7 %); a text grown from 6.1k to 12.9k characters changes 35 %; a text
# replaced by another trial's changes 90 % or more.
ELIGIBILITY_REWRITE_SHARE = 0.3


def stage_of(status: str | None, last_known: str | None = None) -> int | None:
    """The stage (index into ``STAGES``) of an overall status; UNKNOWN uses the last known status."""
    if status == "UNKNOWN":
        status = last_known
    return _STATUS_STAGE.get(status or "")


@dataclass(frozen=True)
class Thresholds:
    """Per-watchlist limits above which a measured change is ``major`` (or ``critical``)."""

    enrollment_major_pct: float = 10.0
    primary_completion_major_days: int = 90
    completion_major_days: int | None = None
    start_major_days: int | None = None
    critical_statuses: tuple[str, ...] = ("TERMINATED", "SUSPENDED", "WITHDRAWN")
    # (category, severity) pairs: every change in the category is at least that loud, e.g. status=major
    # for readers who want each status step as major.
    category_minimum: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Thresholds:
        """Thresholds from a watchlist's YAML mapping or ``k=v`` strings; ValueError names the bad entry."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            # ValueError like every other bad threshold, so config validation catches one exception type.
            raise ValueError(  # noqa: TRY004
                f"thresholds must be a mapping of name to value, not {type(data).__name__}"
            )
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key not in known:
                raise ValueError(f"unknown threshold {key!r}; expected one of {sorted(known)}")
            values[key] = _threshold_value(key, raw)
        return cls(**values)

    @classmethod
    def most_sensitive(cls, many: Iterable[Thresholds]) -> Thresholds:
        """The thresholds for a trial several watchlists watch: the lowest limits and every critical status.

        Events are stored once per trial, so they are rated for the most demanding watchlist; none of
        them then misses a change it asked to hear about as major.
        """
        many = list(many)
        if not many:
            return cls()

        def lowest(values: Iterable[float | int | None]) -> Any:
            present = [value for value in values if value is not None]
            return min(present) if present else None

        statuses: dict[str, None] = {}
        floors: dict[str, str] = {}
        for thresholds in many:
            statuses.update(dict.fromkeys(thresholds.critical_statuses))
            for category, level in thresholds.category_minimum:
                if category not in floors or SEVERITY_RANK[level] > SEVERITY_RANK[floors[category]]:
                    floors[category] = level
        return cls(
            enrollment_major_pct=lowest(t.enrollment_major_pct for t in many),
            primary_completion_major_days=lowest(t.primary_completion_major_days for t in many),
            completion_major_days=lowest(t.completion_major_days for t in many),
            start_major_days=lowest(t.start_major_days for t in many),
            critical_statuses=tuple(statuses),
            category_minimum=tuple(sorted(floors.items())),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The inverse of ``from_mapping`` (JSON-serialisable, for Airflow's XCom)."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "category_minimum":
                data[f.name] = dict(value)
            else:
                data[f.name] = list(value) if isinstance(value, tuple) else value
        return data

    def minimum_for(self, category: str) -> str | None:
        return dict(self.category_minimum).get(category)


def _threshold_value(key: str, raw: Any) -> Any:
    def bad(expected: str) -> ValueError:
        return ValueError(f"threshold {key}={raw!r}: expected {expected}")

    if key == "enrollment_major_pct":
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise bad("a number of percent, e.g. 10") from None
        if isinstance(raw, bool) or not math.isfinite(value) or value < 0:
            raise bad("a non-negative number of percent, e.g. 10")
        return value
    if key in ("primary_completion_major_days", "completion_major_days", "start_major_days"):
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "off")):
            if key == "primary_completion_major_days":
                raise bad("a whole number of days, e.g. 90")
            return None
        if isinstance(raw, bool):
            raise bad("a whole number of days, e.g. 90")
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise bad("a whole number of days, e.g. 90") from None
        if value < 0:
            raise bad("a non-negative whole number of days")
        return value
    if key == "category_minimum":
        return _category_minimum(raw, bad)
    # critical_statuses
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)) or not items:
        raise bad("a list of overall statuses, e.g. TERMINATED,SUSPENDED,WITHDRAWN")
    statuses = tuple(str(item).strip().upper() for item in items)
    unknown = [s for s in statuses if s not in OVERALL_STATUSES]
    if unknown:
        raise bad(f"overall statuses from {OVERALL_STATUSES}; unknown {unknown}")
    return statuses


def _category_minimum(raw: Any, bad: Callable[[str], ValueError]) -> tuple[tuple[str, str], ...]:
    """``{status: major}`` or ``"status=major,arms=major"`` → sorted (category, severity) pairs."""
    expected = "a mapping of category to severity, e.g. {status: major}"
    if isinstance(raw, str):
        pairs = [part.partition("=")[::2] for part in raw.split(",") if part.strip()]
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        raise bad(expected)
    floors: dict[str, str] = {}
    for category, level in pairs:
        category, level = str(category).strip(), str(level).strip().lower()
        if category not in CATEGORIES:
            raise bad(f"{expected}; unknown category {category!r}")
        if level not in SEVERITIES:
            raise bad(f"{expected}; unknown severity {level!r}")
        floors[category] = level
    return tuple(sorted(floors.items()))


@dataclass(frozen=True)
class Change:
    """What the diff measured about one change, for the severity rules."""

    old: Any = None
    new: Any = None
    kind: str = "changed"  # changed | added | removed | renamed | rewritten
    percent: float | None = None
    days: int | None = None
    unknown: bool = False  # a sentinel value ("not known") on either side
    stage: int | None = None  # the trial's stage (``STAGES`` index), the later of both versions
    share: float | None = None  # share of a text that changed (0..1)


SeverityRule = Callable[[Change, Thresholds], str]


@dataclass(frozen=True)
class FieldSpec:
    path: str
    category: str
    label: str
    severity: str | SeverityRule = "info"
    known: bool = True

    def severity_for(self, change: Change, thresholds: Thresholds) -> str:
        if isinstance(self.severity, str):
            return self.severity
        return self.severity(change, thresholds)


# --- severity rules -------------------------------------------------------------------------------------


def _overall_status(change: Change, t: Thresholds) -> str:
    if change.new in t.critical_statuses:
        return "critical"
    return "minor" if (change.old, change.new) in FORWARD_STEPS else "major"


def _started(change: Change) -> bool:
    return change.stage is not None and change.stage >= RECRUITING


def _recruitment_ended(change: Change) -> bool:
    return change.stage is not None and change.stage >= ACTIVE


def _primary_outcome(change: Change, t: Thresholds) -> str:
    """A primary outcome added, removed or replaced once patients are enrolled is outcome switching."""
    if change.kind == "renamed":
        return "info"
    if change.kind in ("added", "removed") and _started(change):
        return "critical"
    return "major"


def _secondary_outcome(change: Change, t: Thresholds) -> str:
    if change.kind == "renamed":
        return "info"
    return "major" if change.kind == "removed" and _recruitment_ended(change) else "minor"


def _arm_or_intervention(change: Change, t: Thresholds) -> str:
    """Treatments added or dropped after enrolment began change what patients receive."""
    if change.kind == "renamed":
        return "info"
    return "major" if change.kind in ("added", "removed") and _started(change) else "minor"


def _eligibility(change: Change, t: Thresholds) -> str:
    if change.kind == "rewritten":
        return "major" if (change.share or 0) >= ELIGIBILITY_REWRITE_SHARE else "minor"
    return "minor"


def _enrollment_count(change: Change, t: Thresholds) -> str:
    if change.unknown or change.kind != "changed":
        return "minor"
    if change.percent is None:  # from zero: no percentage, always material
        return "major"
    return "major" if abs(change.percent) >= t.enrollment_major_pct else "minor"


def _date_rule(limit: Callable[[Thresholds], int | None], *, long_slip: bool = False) -> SeverityRule:
    def rule(change: Change, t: Thresholds) -> str:
        if change.kind != "changed":
            return "minor"
        if change.days is None:
            return "info"  # the same period stated more or less precisely
        days = limit(t)
        if days is not None and abs(change.days) >= days:
            return "major"
        return "major" if long_slip and abs(change.days) >= SLIP_MAJOR_DAYS else "minor"

    return rule


def _results_posted(change: Change, t: Thresholds) -> str:
    return "major" if change.kind == "added" else "minor"


def _results_section(change: Change, t: Thresholds) -> str:
    return "major" if change.kind in ("added", "removed") else "minor"


def _results_module(change: Change, t: Thresholds) -> str:
    return "major" if change.kind == "removed" else "minor"


# --- the catalog ----------------------------------------------------------------------------------------

PS = "protocolSection"
ST = f"{PS}.statusModule"
DM = f"{PS}.designModule"
CL = f"{PS}.contactsLocationsModule"
OM = f"{PS}.outcomesModule"

# Subtree defaults: any path under one of these (without its own entry) takes its category and
# severity, and a label built from the subtree's label and the field name.
_SUBTREES: dict[str, tuple[str, str, str]] = {
    PS: ("other", "Protocol", "info"),
    f"{PS}.identificationModule": ("identity", "Identification", "info"),
    ST: ("status", "Status", "minor"),
    f"{PS}.sponsorCollaboratorsModule": ("sponsor", "Sponsor", "minor"),
    f"{PS}.oversightModule": ("design", "Oversight", "info"),
    f"{PS}.descriptionModule": ("other", "Description", "info"),
    f"{PS}.conditionsModule": ("design", "Conditions", "minor"),
    DM: ("design", "Design", "minor"),
    f"{PS}.armsInterventionsModule": ("arms", "Arms and interventions", "minor"),
    OM: ("outcomes", "Outcomes", "minor"),
    f"{PS}.eligibilityModule": ("eligibility", "Eligibility", "minor"),
    CL: ("contacts", "Contacts", "minor"),
    f"{CL}.locations": ("sites", "Site", "minor"),
    f"{PS}.referencesModule": ("references", "References", "info"),
    f"{PS}.ipdSharingStatementModule": ("documents", "IPD sharing", "info"),
    "resultsSection": ("results", "Results", "minor"),
    "annotationSection": ("results", "Annotation", "minor"),
    "documentSection": ("documents", "Documents", "minor"),
    "derivedSection": ("other", "Derived", "info"),
}

_ENTRIES: tuple[tuple[str, str, str, str | SeverityRule], ...] = (
    # identity
    (f"{PS}.identificationModule.nctId", "identity", "NCT number", "major"),
    (f"{PS}.identificationModule.nctIdAliases", "identity", "NCT aliases", "minor"),
    (f"{PS}.identificationModule.orgStudyIdInfo", "identity", "Organization study ID", "info"),
    (f"{PS}.identificationModule.secondaryIdInfos", "identity", "Secondary ID", "info"),
    (f"{PS}.identificationModule.briefTitle", "identity", "Brief title", "minor"),
    (f"{PS}.identificationModule.officialTitle", "identity", "Official title", "minor"),
    (f"{PS}.identificationModule.acronym", "identity", "Acronym", "info"),
    (f"{PS}.identificationModule.organization", "sponsor", "Organization", "minor"),
    (f"{PS}.identificationModule.organization.class", "sponsor", "Organization class", "info"),
    # status
    (f"{ST}.overallStatus", "status", "Overall status", _overall_status),
    (f"{ST}.lastKnownStatus", "status", "Last known status", "minor"),
    (f"{ST}.whyStopped", "status", "Why stopped", "minor"),
    (f"{ST}.delayedPosting", "status", "Delayed posting", "info"),
    (f"{ST}.expandedAccessInfo", "status", "Expanded access", "minor"),
    (f"{ST}.statusVerifiedDate", "status", "Status verified date", "info"),
    (f"{ST}.lastUpdateSubmitDate", "status", "Last update submitted", "info"),
    (f"{ST}.lastUpdatePostDateStruct", "status", "Last update posted", "info"),
    # dates
    (f"{ST}.startDateStruct", "dates", "Start date", "minor"),
    (f"{ST}.startDateStruct.date", "dates", "Start date", _date_rule(lambda t: t.start_major_days)),
    (f"{ST}.startDateStruct.type", "dates", "Start date type", "minor"),
    (f"{ST}.primaryCompletionDateStruct", "dates", "Primary completion date", "minor"),
    (
        f"{ST}.primaryCompletionDateStruct.date",
        "dates",
        "Primary completion date",
        _date_rule(lambda t: t.primary_completion_major_days, long_slip=True),
    ),
    (f"{ST}.primaryCompletionDateStruct.type", "dates", "Primary completion date type", "minor"),
    (f"{ST}.completionDateStruct", "dates", "Completion date", "minor"),
    (
        f"{ST}.completionDateStruct.date",
        "dates",
        "Completion date",
        _date_rule(lambda t: t.completion_major_days, long_slip=True),
    ),
    (f"{ST}.completionDateStruct.type", "dates", "Completion date type", "minor"),
    (f"{ST}.studyFirstSubmitDate", "dates", "First submitted", "info"),
    (f"{ST}.studyFirstSubmitQcDate", "dates", "First submitted that met QC criteria", "info"),
    (f"{ST}.studyFirstPostDateStruct", "dates", "First posted", "info"),
    # results bookkeeping in the status module
    (f"{ST}.resultsWaived", "results", "Results waived", "minor"),
    (f"{ST}.resultsFirstSubmitDate", "results", "Results first submitted", "minor"),
    (f"{ST}.resultsFirstSubmitQcDate", "results", "Results first submitted that met QC criteria", "info"),
    (f"{ST}.resultsFirstPostDateStruct", "results", "Results first posted", _results_posted),
    (f"{ST}.resultsFirstPostDateStruct.date", "results", "Results first posted", _results_posted),
    (f"{ST}.resultsFirstPostDateStruct.type", "results", "Results first posted date type", "info"),
    (f"{ST}.dispFirstSubmitDate", "results", "Results delay certification submitted", "minor"),
    (f"{ST}.dispFirstSubmitQcDate", "results", "Results delay certification met QC criteria", "info"),
    (f"{ST}.dispFirstPostDateStruct", "results", "Results delay certification posted", "minor"),
    # sponsor
    (f"{PS}.sponsorCollaboratorsModule.responsibleParty", "sponsor", "Responsible party", "minor"),
    (f"{PS}.sponsorCollaboratorsModule.leadSponsor", "sponsor", "Lead sponsor", "minor"),
    (f"{PS}.sponsorCollaboratorsModule.leadSponsor.name", "sponsor", "Lead sponsor", "minor"),
    (f"{PS}.sponsorCollaboratorsModule.leadSponsor.class", "sponsor", "Lead sponsor class", "info"),
    (f"{PS}.sponsorCollaboratorsModule.collaborators", "sponsor", "Collaborator", "minor"),
    (f"{PS}.sponsorCollaboratorsModule.collaborators.class", "sponsor", "Collaborator class", "info"),
    # oversight, description, conditions
    (f"{PS}.oversightModule.oversightHasDmc", "design", "Data monitoring committee", "info"),
    (f"{PS}.oversightModule.isFdaRegulatedDrug", "design", "FDA-regulated drug", "info"),
    (f"{PS}.oversightModule.isFdaRegulatedDevice", "design", "FDA-regulated device", "info"),
    (f"{PS}.oversightModule.isUnapprovedDevice", "design", "Unapproved device", "info"),
    (f"{PS}.oversightModule.isPpsd", "design", "Pediatric postmarket surveillance", "info"),
    (f"{PS}.oversightModule.isUsExport", "design", "Exported from the U.S.", "info"),
    (f"{PS}.oversightModule.fdaaa801Violation", "results", "FDAAA 801 violation", "major"),
    (f"{PS}.descriptionModule.briefSummary", "other", "Brief summary", "info"),
    (f"{PS}.descriptionModule.detailedDescription", "other", "Detailed description", "info"),
    (f"{PS}.conditionsModule.conditions", "design", "Conditions", "minor"),
    (f"{PS}.conditionsModule.keywords", "design", "Keywords", "info"),
    # design and enrollment
    (f"{DM}.studyType", "design", "Study type", "major"),
    (f"{DM}.phases", "design", "Phase", "major"),
    (f"{DM}.designInfo", "design", "Study design", "minor"),
    (f"{DM}.designInfo.allocation", "design", "Allocation", "minor"),
    (f"{DM}.designInfo.interventionModel", "design", "Intervention model", "minor"),
    (f"{DM}.designInfo.interventionModelDescription", "design", "Intervention model description", "info"),
    (f"{DM}.designInfo.primaryPurpose", "design", "Primary purpose", "minor"),
    (f"{DM}.designInfo.observationalModel", "design", "Observational model", "minor"),
    (f"{DM}.designInfo.timePerspective", "design", "Time perspective", "minor"),
    (f"{DM}.designInfo.maskingInfo.masking", "design", "Masking", "minor"),
    (f"{DM}.designInfo.maskingInfo.maskingDescription", "design", "Masking description", "info"),
    (f"{DM}.designInfo.maskingInfo.whoMasked", "design", "Who is masked", "minor"),
    (f"{DM}.bioSpec", "design", "Biospecimens", "info"),
    (f"{DM}.patientRegistry", "design", "Patient registry", "info"),
    (f"{DM}.targetDuration", "design", "Target follow-up duration", "info"),
    (f"{DM}.expandedAccessTypes", "design", "Expanded access type", "info"),
    (f"{DM}.nPtrsToThisExpAccNctId", "design", "Expanded access record links", "info"),
    (f"{DM}.enrollmentInfo", "enrollment", "Enrollment", "minor"),
    (f"{DM}.enrollmentInfo.count", "enrollment", "Enrollment", _enrollment_count),
    (f"{DM}.enrollmentInfo.type", "enrollment", "Enrollment type", "major"),
    # arms and interventions
    (f"{PS}.armsInterventionsModule.armGroups", "arms", "Arm", _arm_or_intervention),
    (f"{PS}.armsInterventionsModule.armGroups.label", "arms", "Arm", _arm_or_intervention),
    (f"{PS}.armsInterventionsModule.armGroups.type", "arms", "Arm type", "minor"),
    (f"{PS}.armsInterventionsModule.armGroups.description", "arms", "Arm description", "info"),
    (f"{PS}.armsInterventionsModule.armGroups.interventionNames", "arms", "Arm interventions", "minor"),
    (f"{PS}.armsInterventionsModule.interventions", "arms", "Intervention", _arm_or_intervention),
    (f"{PS}.armsInterventionsModule.interventions.name", "arms", "Intervention", _arm_or_intervention),
    (f"{PS}.armsInterventionsModule.interventions.type", "arms", "Intervention type", "minor"),
    (f"{PS}.armsInterventionsModule.interventions.description", "arms", "Intervention description", "info"),
    (f"{PS}.armsInterventionsModule.interventions.armGroupLabels", "arms", "Intervention arms", "minor"),
    (f"{PS}.armsInterventionsModule.interventions.otherNames", "arms", "Intervention other names", "info"),
    # outcomes
    (f"{OM}.primaryOutcomes", "outcomes", "Primary outcome", _primary_outcome),
    (f"{OM}.primaryOutcomes.measure", "outcomes", "Primary outcome", _primary_outcome),
    (f"{OM}.primaryOutcomes.description", "outcomes", "Primary outcome description", "major"),
    (f"{OM}.primaryOutcomes.timeFrame", "outcomes", "Primary outcome time frame", "major"),
    (f"{OM}.secondaryOutcomes", "outcomes", "Secondary outcome", _secondary_outcome),
    (f"{OM}.secondaryOutcomes.measure", "outcomes", "Secondary outcome", _secondary_outcome),
    (f"{OM}.secondaryOutcomes.description", "outcomes", "Secondary outcome description", "minor"),
    (f"{OM}.secondaryOutcomes.timeFrame", "outcomes", "Secondary outcome time frame", "minor"),
    (f"{OM}.otherOutcomes", "outcomes", "Other outcome", "info"),
    (f"{OM}.otherOutcomes.measure", "outcomes", "Other outcome", "info"),
    (f"{OM}.otherOutcomes.description", "outcomes", "Other outcome description", "info"),
    (f"{OM}.otherOutcomes.timeFrame", "outcomes", "Other outcome time frame", "info"),
    # eligibility
    (f"{PS}.eligibilityModule.eligibilityCriteria", "eligibility", "Eligibility criteria", _eligibility),
    # the criteria text is compared item by item, per section
    (f"{PS}.eligibilityModule.eligibilityCriteria.inclusion", "eligibility", "Inclusion criteria", "minor"),
    (f"{PS}.eligibilityModule.eligibilityCriteria.exclusion", "eligibility", "Exclusion criteria", "minor"),
    (f"{PS}.eligibilityModule.eligibilityCriteria.criteria", "eligibility", "Eligibility criteria", "minor"),
    (f"{PS}.eligibilityModule.healthyVolunteers", "eligibility", "Accepts healthy volunteers", "minor"),
    (f"{PS}.eligibilityModule.sex", "eligibility", "Sex", "minor"),
    (f"{PS}.eligibilityModule.genderBased", "eligibility", "Gender based", "info"),
    (f"{PS}.eligibilityModule.genderDescription", "eligibility", "Gender eligibility description", "info"),
    (f"{PS}.eligibilityModule.minimumAge", "eligibility", "Minimum age", "minor"),
    (f"{PS}.eligibilityModule.maximumAge", "eligibility", "Maximum age", "minor"),
    (f"{PS}.eligibilityModule.stdAges", "eligibility", "Age groups", "info"),
    (f"{PS}.eligibilityModule.studyPopulation", "eligibility", "Study population", "info"),
    (f"{PS}.eligibilityModule.samplingMethod", "eligibility", "Sampling method", "info"),
    # contacts and sites
    (f"{CL}.centralContacts", "contacts", "Central contact", "minor"),
    (f"{CL}.overallOfficials", "contacts", "Overall official", "minor"),
    (f"{CL}.locations", "sites", "Site", "minor"),
    (f"{CL}.locations.status", "sites", "Site recruitment status", "minor"),
    (f"{CL}.locations.contacts", "sites", "Site contacts", "minor"),
    (f"{CL}.locations.country", "sites", "Country", "minor"),
    (f"{CL}.locations.facility", "sites", "Site facility", "info"),
    (f"{CL}.locations.city", "sites", "Site city", "info"),
    (f"{CL}.locations.state", "sites", "Site state", "info"),
    (f"{CL}.locations.zip", "sites", "Site postal code", "info"),
    (f"{CL}.locations.geoPoint", "sites", "Site coordinates", "info"),
    # references and documents
    (f"{PS}.referencesModule.references", "references", "Reference", "minor"),
    (f"{PS}.referencesModule.references.type", "references", "Reference type", "info"),
    # a reference is matched by PMID or DOI, so an edited citation is the same publication
    (f"{PS}.referencesModule.references.citation", "references", "Reference: citation", "info"),
    (f"{PS}.referencesModule.references.retractions", "references", "Retraction", "minor"),
    (f"{PS}.referencesModule.seeAlsoLinks", "references", "Link", "info"),
    (f"{PS}.referencesModule.availIpds", "references", "Available study data/documents", "info"),
    ("documentSection.largeDocumentModule.largeDocs", "documents", "Document", "minor"),
    ("documentSection.largeDocumentModule.noSap", "documents", "No statistical analysis plan", "info"),
    # results
    ("hasResults", "results", "Has results", "minor"),
    ("resultsSection", "results", "Results", _results_section),
    ("resultsSection.participantFlowModule", "results", "Participant flow", _results_module),
    ("resultsSection.baselineCharacteristicsModule", "results", "Baseline characteristics", _results_module),
    ("resultsSection.outcomeMeasuresModule", "results", "Outcome measure results", _results_module),
    ("resultsSection.adverseEventsModule", "results", "Adverse events", _results_module),
    ("resultsSection.moreInfoModule", "results", "More results information", _results_module),
    ("annotationSection.annotationModule.unpostedAnnotation", "results", "Unposted results events", "minor"),
    ("annotationSection.annotationModule.violationAnnotation", "results", "FDAAA 801 violation", "major"),
    # events that are not a field change
    ("record.gone", "identity", "Record", "critical"),
    ("record.alias", "identity", "NCT number (alias)", "major"),
    ("record.leftQuery", "identity", "Watchlist membership", "minor"),
    ("record.historyUnavailable", "identity", "Version history", "info"),
)

_FIELDS: dict[str, FieldSpec] = {
    path: FieldSpec(path, category, label, severity) for path, category, label, severity in _ENTRIES
}

_ACRONYMS = {"nct": "NCT", "fda": "FDA", "ipd": "IPD", "id": "ID", "dmc": "DMC", "qc": "QC", "us": "U.S."}


def humanize(name: str) -> str:
    """``isFdaRegulatedDrug`` → "is FDA regulated drug"."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name) or [name]
    return " ".join(_ACRONYMS.get(word.lower(), word.lower()) for word in words)


@lru_cache(maxsize=4096)
def lookup(path: str) -> FieldSpec:
    """The catalog entry for a dotted path (list positions left out); never fails."""
    spec = _FIELDS.get(path)
    if spec is not None:
        return spec
    known = path in MODEL_PATHS
    if known and path in _SUBTREES:
        category, label, severity_name = _SUBTREES[path]
        return FieldSpec(path, category, label, severity_name)
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        tail = " ".join(humanize(part) for part in parts[i:])
        parent = _FIELDS.get(prefix)
        if parent is not None and known:
            return FieldSpec(path, parent.category, f"{parent.label}: {tail}", parent.severity)
        subtree = _SUBTREES.get(prefix)
        if subtree is not None and known:
            category, label, severity = subtree
            return FieldSpec(path, category, f"{label}: {tail}", severity)
    label = " ".join(humanize(part) for part in parts[-2:]) if len(parts) > 1 else humanize(path)
    return FieldSpec(path, "other", label[:1].upper() + label[1:], "info", known=False)


def rate(spec: FieldSpec, change: Change, thresholds: Thresholds) -> str:
    """The severity of ``change`` at ``spec``, raised to the watchlist's minimum for its category."""
    level = spec.severity_for(change, thresholds)
    floor = thresholds.minimum_for(spec.category) if thresholds.category_minimum else None
    if floor is not None and SEVERITY_RANK[floor] > SEVERITY_RANK[level]:
        return floor
    return level


def severity(path: str, change: Change, thresholds: Thresholds | None = None) -> str:
    return rate(lookup(path), change, thresholds or Thresholds())


def all_specs() -> list[FieldSpec]:
    """Every model path with its resolved entry (for documentation and checks)."""
    return [lookup(path) for path in sorted(MODEL_PATHS)]


def _check_catalog() -> None:
    for spec in _FIELDS.values():
        if spec.category not in CATEGORIES:
            raise ValueError(f"catalog entry {spec.path}: unknown category {spec.category!r}")
        if isinstance(spec.severity, str) and spec.severity not in SEVERITIES:
            raise ValueError(f"catalog entry {spec.path}: unknown severity {spec.severity!r}")
    for category, _, severity_name in _SUBTREES.values():
        if category not in CATEGORIES or severity_name not in SEVERITIES:
            raise ValueError(f"catalog subtree default {category}/{severity_name} is not in the vocabulary")


_check_catalog()
