"""Registry findings: what is wrong with a record as it stands, not what changed in it.

``evaluate`` runs the checks on one study record at a given date and returns ``Finding``s;
``reconcile`` tells which findings are new, still open or resolved since the last evaluation, so a
digest reports each one "new" once and "resolved" once. Both are pure: no I/O, no clock (the date
is always passed in). The checks, their reasons and the rules they rest on are in docs/findings.md.

Partial registry dates ("2016", "2016-07") stand for the whole period they name, and a check fires
only when the whole period satisfies it: a deadline runs from the period's last day, "in the
future" starts after its first day. So no finding is raised early because a date lacks its day.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from trialwatch import safejson
from trialwatch.events import SEVERITIES, SEVERITY_RANK, study_url
from trialwatch.records import ENROLLMENT_UNKNOWN, MalformedRecord, brief_title, check_study

# How sure a finding is. "certain" for facts read off the record; the results check guesses whether
# the study is an applicable clinical trial and says how well the record supports the guess.
CERTAINTIES: tuple[str, ...] = ("certain", "high", "medium", "low")


@dataclass(frozen=True)
class Check:
    """One kind of finding: its code, category, usual severity, the rule it rests on and its title."""

    code: str
    category: str
    severity: str
    rule: str
    title: str


# The one list of finding kinds; docs/findings.md explains each. Categories are change-event
# categories, so a filter by category covers events and findings alike.
CHECKS: dict[str, Check] = {
    check.code: check
    for check in (
        Check(
            "results_overdue",
            "results",
            "critical",  # lowered with the certainty of the applicability guess
            "FDAAA 801 / 42 CFR 11.44",
            "Results overdue",
        ),
        Check(
            "status_past_completion",
            "status",
            "major",
            "42 CFR 11.64 (status and dates updated within 30 days)",
            "Recruitment status past the completion date",
        ),
        Check(
            "recruitment_not_started",
            "status",
            "minor",
            "42 CFR 11.64 (status and dates updated within 30 days)",
            "Not yet recruiting long after start date",
        ),
        Check(
            "verification_stale",
            "status",
            "major",
            "42 CFR 11.64 (verified at least every 12 months); registry shows Unknown status after 2 years",
            "Status not verified for over two years",
        ),
        Check(
            "enrollment_shortfall",
            "enrollment",
            "major",
            "none (signal: actual enrollment below half the anticipated figure)",
            "Enrollment far below the anticipated figure",
        ),
        Check(
            "actual_date_in_future",
            "dates",
            "major",
            "ClinicalTrials.gov data element definitions (an actual date has occurred)",
            "Actual date in the future",
        ),
        Check(
            "dates_out_of_order",
            "dates",
            "major",
            "ClinicalTrials.gov data element definitions (start, primary completion, completion)",
            "Dates out of order",
        ),
        Check(
            "stop_reason_missing",
            "status",
            "minor",
            "42 CFR 11.28 (Why Study Stopped)",
            "Stopped without a reason",
        ),
    )
}
CODES: tuple[str, ...] = tuple(CHECKS)

# FDAAA 801 was enacted on 2007-09-27; its results requirement never reached trials completed before.
FDAAA_ENACTED = date(2007, 9, 27)
# The final rule (42 CFR Part 11) took effect on 2017-01-18: before it, results were due only for
# products already approved or cleared, which a record does not say.
FINAL_RULE_EFFECTIVE = date(2017, 1, 18)

ONGOING_STATUSES = frozenset({"RECRUITING", "NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING"})
STOPPED_STATUSES = frozenset({"TERMINATED", "WITHDRAWN", "SUSPENDED"})
PHASES_DUE = frozenset({"PHASE2", "PHASE3", "PHASE4"})  # PHASE1/PHASE2 lists both, so it counts

RESULTS_DUE_YEARS = 1
VERIFICATION_STALE_YEARS = 2
START_GRACE_MONTHS = 6
SHORTFALL_SHARE = 0.5

STATUS_PATH = "protocolSection.statusModule"
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATE_FIELDS = (  # (struct key, name in keys and evidence, reader's label)
    ("startDateStruct", "start", "start date"),
    ("primaryCompletionDateStruct", "primary_completion", "primary completion date"),
    ("completionDateStruct", "completion", "completion date"),
)


@dataclass(frozen=True)
class Finding:
    """One problem with a record's current state.

    ``key`` identifies the finding across evaluations ("NCT01234567/results_overdue", plus the
    subject when one record can have several of a kind, e.g. ".../actual_date_in_future/start"); it
    never holds anything that moves with the date of evaluation, so ``reconcile`` can match it.
    ``detail`` says what was found in a sentence and may mention the date of evaluation; ``evidence``
    holds the record's values the finding rests on (strict JSON values).
    """

    code: str
    nct_id: str
    title: str
    detail: str
    category: str
    severity: str
    rule: str
    certainty: str = "certain"
    evidence: dict[str, Any] = field(default_factory=dict)
    key: str = ""

    def __post_init__(self) -> None:
        if self.code not in CHECKS:
            raise ValueError(f"unknown finding code {self.code!r}; expected one of {CODES}")
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}; expected one of {SEVERITIES}")
        if self.certainty not in CERTAINTIES:
            raise ValueError(f"unknown certainty {self.certainty!r}; expected one of {CERTAINTIES}")
        if not self.key:
            object.__setattr__(self, "key", finding_key(self.nct_id, self.code))

    @property
    def url(self) -> str:
        return study_url(self.nct_id)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["url"] = self.url
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def finding_key(nct_id: str, code: str, subject: str = "") -> str:
    return f"{nct_id}/{code}/{subject}" if subject else f"{nct_id}/{code}"


# --- dates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryDate:
    """A registry date and the period it stands for: a day, a month ("2016-07") or a year ("2016")."""

    text: str
    first: date
    last: date


def parse_registry_date(text: Any, where: str) -> RegistryDate:
    """``text`` as a RegistryDate; MalformedRecord naming ``where`` if it is not YYYY[-MM[-DD]]."""
    parsed = _parse_date_text(text) if isinstance(text, str) else None
    if parsed is None:
        raise MalformedRecord(f"{where}: {text!r} is not a registry date (YYYY, YYYY-MM or YYYY-MM-DD)")
    return parsed


@functools.lru_cache(maxsize=8192)  # a registry-wide evaluation reads the same few thousand dates
def _parse_date_text(text: str) -> RegistryDate | None:
    match = _DATE_RE.match(text)
    if match is None:
        return None
    year, month, day = int(match[1]), match[2], match[3]
    try:
        if month is None:
            return RegistryDate(text, date(year, 1, 1), date(year, 12, 31))
        if day is None:
            last_day = calendar.monthrange(year, int(month))[1]
            return RegistryDate(text, date(year, int(month), 1), date(year, int(month), last_day))
        exact = date(year, int(month), int(day))
        return RegistryDate(text, exact, exact)
    except ValueError:  # a month or day out of range
        return None


@functools.lru_cache(maxsize=8192)  # the same few thousand dates again: due dates, grace periods
def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's end (2024-02-29 + 12 months = 2025-02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _span(later: date, earlier: date) -> str:
    """A reader's length of time between two dates: "45 days", "7 months", "3 years 2 months"."""
    days = (later - earlier).days
    if days < 62:
        return f"{days} day{'' if days == 1 else 's'}"
    months = (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)
    years, months = divmod(months, 12)
    parts = [f"{years} year{'' if years == 1 else 's'}"] if years else []
    if months:
        parts.append(f"{months} month{'' if months == 1 else 's'}")
    return " ".join(parts)


def _span_changes(later: date, earlier: date) -> date:
    """The first day after ``later`` on which ``_span(day, earlier)`` reads differently."""
    if (later - earlier).days < 62:
        return later + timedelta(days=1)
    months = (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)
    step = add_months(earlier, months + 1)
    if step.day != earlier.day:  # clamped to a shorter month's end: the count moves a day later
        step += timedelta(days=1)
    return step


class _Horizon:
    """The date the checks compare with, and the first later day on which their answer may differ.

    Every comparison with the date and every "… ago" span goes through it, so ``next_change`` is the
    earliest day a check could open, resolve or reword a finding; None when no check depends on the
    date. Re-evaluating a record before that day gives the same findings, word for word.
    """

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.next_change: date | None = None

    def _changes_on(self, day: date) -> None:
        if day > self.as_of and (self.next_change is None or day < self.next_change):
            self.next_change = day

    def after(self, day: date) -> bool:
        """Whether ``as_of`` is later than ``day`` (true from the day after it)."""
        self._changes_on(day + timedelta(days=1))
        return self.as_of > day

    def before(self, day: date) -> bool:
        """Whether ``as_of`` is earlier than ``day`` (false from ``day`` on)."""
        self._changes_on(day)
        return self.as_of < day

    def since(self, earlier: date) -> str:
        """How long ago ``earlier`` was, as a reader says it."""
        self._changes_on(_span_changes(self.as_of, earlier))
        return _span(self.as_of, earlier)

    def until(self, later: date) -> str:
        """How far ahead ``later`` lies; the wording moves every day."""
        self._changes_on(self.as_of + timedelta(days=1))
        return _span(later, self.as_of)


# --- reading the record ------------------------------------------------------------------------


class _Record:
    """The fields the checks read, type-checked once; a wrong type is a MalformedRecord naming its path."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.nct_id = check_study(record)
        protocol = record.get("protocolSection") or {}
        self.status = protocol.get("statusModule") or {}
        self.design = protocol.get("designModule") or {}
        self.oversight = protocol.get("oversightModule") or {}
        self.interventions_module = protocol.get("armsInterventionsModule") or {}
        self.locations_module = protocol.get("contactsLocationsModule") or {}
        self.record = record
        # Read every field a check may need now, so a bad one fails the same way whatever the status;
        # the date structs and the status, which several checks read, are kept as read.
        self._dates = {key: self._read_date_struct(key) for key, _, _ in _DATE_FIELDS}
        self.plain_date("statusVerifiedDate")
        self.flag("isFdaRegulatedDrug")
        self.flag("isFdaRegulatedDevice")
        self.enrollment()
        self.overall_status = self.text(self.status, "overallStatus", STATUS_PATH)
        for key in ("lastKnownStatus", "whyStopped"):
            self.text(self.status, key, STATUS_PATH)

    def text(self, module: dict[str, Any], key: str, where: str) -> str | None:
        value = module.get(key)
        if value is None or isinstance(value, str):
            return value
        raise MalformedRecord(f"{self.nct_id}: {where}.{key} is a {type(value).__name__}, expected text")

    def flag(self, key: str) -> bool | None:
        value = self.oversight.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise MalformedRecord(
            f"{self.nct_id}: protocolSection.oversightModule.{key} is {value!r}, expected true or false"
        )

    def date_struct(self, key: str) -> tuple[RegistryDate | None, str | None]:
        """(date, type) of a date struct such as ``startDateStruct``; (None, None) when absent."""
        found = self._dates.get(key)
        return self._read_date_struct(key) if found is None else found

    def _read_date_struct(self, key: str) -> tuple[RegistryDate | None, str | None]:
        struct = self.status.get(key)
        where = f"{self.nct_id}: {STATUS_PATH}.{key}"
        if struct is None:
            return None, None
        if not isinstance(struct, dict):
            raise MalformedRecord(f"{where} is a {type(struct).__name__}, expected an object")
        if struct.get("date") is None:
            return None, None
        kind = struct.get("type")
        if kind is not None and not isinstance(kind, str):
            raise MalformedRecord(f"{where}.type is {kind!r}, expected ACTUAL or ESTIMATED")
        return parse_registry_date(struct["date"], f"{where}.date"), kind

    def plain_date(self, key: str) -> RegistryDate | None:
        text = self.status.get(key)
        return None if text is None else parse_registry_date(text, f"{self.nct_id}: {STATUS_PATH}.{key}")

    def enrollment(self) -> tuple[int | None, str | None]:
        info = self.design.get("enrollmentInfo") or {}
        where = f"{self.nct_id}: protocolSection.designModule.enrollmentInfo"
        if not isinstance(info, dict):
            raise MalformedRecord(f"{where} is a {type(info).__name__}, expected an object")
        count, kind = info.get("count"), info.get("type")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise MalformedRecord(f"{where}.count is {count!r}, expected a whole number")
        if count == ENROLLMENT_UNKNOWN:
            count = None
        return count, kind if isinstance(kind, str) else None

    def phases(self) -> list[str]:
        phases = self.design.get("phases") or []
        return [p for p in phases if isinstance(p, str)] if isinstance(phases, list) else []

    def intervention_types(self) -> set[str]:
        items = self.interventions_module.get("interventions") or []
        if not isinstance(items, list):
            return set()
        return {i.get("type") for i in items if isinstance(i, dict) and isinstance(i.get("type"), str)}

    def has_us_site(self) -> bool:
        sites = self.locations_module.get("locations") or []
        return isinstance(sites, list) and any(
            isinstance(s, dict) and s.get("country") == "United States" for s in sites
        )

    def results_on_file(self) -> str | None:
        """Why results count as submitted, or None: posted, submitted, or under quality control review."""
        if self.record.get("hasResults") is True:
            return "hasResults is true"
        if self.record.get("resultsSection"):
            return "the record has a results section"
        if self.status.get("resultsFirstSubmitDate"):
            return f"results first submitted {self.status['resultsFirstSubmitDate']}"
        annotation = (self.record.get("annotationSection") or {}).get("annotationModule") or {}
        unposted = annotation.get("unpostedAnnotation") if isinstance(annotation, dict) else None
        if isinstance(unposted, dict) and unposted.get("unpostedEvents"):
            return "results submitted and under quality control review (unposted events)"
        return None


# --- the checks --------------------------------------------------------------------------------


def _finding(
    rec: _Record,
    code: str,
    detail: str,
    evidence: dict[str, Any],
    *,
    subject: str = "",
    severity: str | None = None,
    certainty: str = "certain",
) -> Finding:
    check = CHECKS[code]
    return Finding(
        code=code,
        nct_id=rec.nct_id,
        title=check.title,
        detail=detail,
        category=check.category,
        severity=severity or check.severity,
        rule=check.rule,
        certainty=certainty,
        evidence=evidence,
        key=finding_key(rec.nct_id, code, subject),
    )


def applicability(rec: _Record) -> tuple[str | None, str]:
    """How likely the study is an applicable clinical trial (42 CFR 11.10): (certainty or None, why).

    The FDA-regulated drug/device flags exist on records registered or updated since the final
    rule (2017); older records lack them and the guess rests on study type, phase and a US site.
    """
    study_type = rec.text(rec.design, "studyType", "protocolSection.designModule")
    if study_type != "INTERVENTIONAL":
        return None, f"study type {study_type or 'not given'}"
    design_info = rec.design.get("designInfo")
    purpose = design_info.get("primaryPurpose") if isinstance(design_info, dict) else None
    if purpose == "DEVICE_FEASIBILITY":
        return None, "a device feasibility study (not an applicable trial)"
    drug, device = rec.flag("isFdaRegulatedDrug"), rec.flag("isFdaRegulatedDevice")
    phases = rec.phases()
    phase_due = bool(PHASES_DUE & set(phases))
    phase_text = "/".join(phases) or "no phase"
    if device:
        return "high", "interventional, FDA-regulated device"
    if drug:
        if phase_due:
            return "high", f"interventional {phase_text}, FDA-regulated drug"
        if phases and all(p in ("EARLY_PHASE1", "PHASE1") for p in phases):
            return None, f"{phase_text} drug trial (phase 1 is not an applicable trial)"
        return "medium", f"interventional, FDA-regulated drug, phase {phase_text}"
    if drug is False and device is False:
        return None, "the record says neither an FDA-regulated drug nor device"
    device_study = "DEVICE" in rec.intervention_types()
    if not (phase_due or device_study):
        return None, f"interventional {phase_text} without FDA flags"
    what = f"interventional {phase_text}" if phase_due else "interventional device study"
    if rec.has_us_site():
        return "medium", f"{what} with a US site; no FDA-regulated flags on the record"
    return "low", f"{what}; no FDA-regulated flags on the record and no US site"


def _results_overdue(rec: _Record, clock: _Horizon) -> list[Finding]:
    completion, kind = rec.date_struct("primaryCompletionDateStruct")
    if completion is None or kind != "ACTUAL" or rec.overall_status == "WITHDRAWN":
        return []
    due = add_months(completion.last, 12 * RESULTS_DUE_YEARS)
    if completion.last < FDAAA_ENACTED or not clock.after(due):
        return []
    if rec.results_on_file() is not None:
        return []
    disp = rec.status.get("dispFirstSubmitDate")
    if disp:  # a certification to delay results, or an extension request, is on file
        return []
    certainty, why = applicability(rec)
    if certainty is None:
        return []
    before_rule = completion.last < FINAL_RULE_EFFECTIVE
    if before_rule:  # results were then due only for approved products, which the record does not say
        certainty = CERTAINTIES[min(CERTAINTIES.index(certainty) + 1, len(CERTAINTIES) - 1)]
    severity = {"high": "critical", "medium": "major", "low": "minor"}[certainty]
    detail = (
        f"Primary completion {completion.text} (actual); results were due by {due.isoformat()}, "
        f"{clock.since(due)} ago, and none are posted, submitted or deferred by a certification "
        f"or extension. Applicable clinical trial? {certainty} certainty: {why}."
    )
    if before_rule:
        detail += " Completed before the final rule (2017-01-18): results were due only if the product was approved."
    evidence = {
        "primary_completion_date": completion.text,
        "results_due": due.isoformat(),
        "has_results": rec.record.get("hasResults"),
        "is_fda_regulated_drug": rec.flag("isFdaRegulatedDrug"),
        "is_fda_regulated_device": rec.flag("isFdaRegulatedDevice"),
        "study_type": rec.design.get("studyType"),
        "phases": rec.phases(),
        "applicability": why,
    }
    return [_finding(rec, "results_overdue", detail, evidence, severity=severity, certainty=certainty)]


def _status_out_of_date(rec: _Record, clock: _Horizon) -> list[Finding]:
    status = rec.overall_status
    found: list[Finding] = []
    if status in ("RECRUITING", "NOT_YET_RECRUITING"):
        # The primary completion date; the completion date only when there is none.
        for key, name, label in _DATE_FIELDS[1:]:
            passed, kind = rec.date_struct(key)
            if passed is not None:
                break
        if passed is not None and clock.after(passed.last):
            detail = (
                f"Status is {status} but the {label} {passed.text} ({(kind or 'no type').lower()}) "
                f"passed {clock.since(passed.last)} ago: the status or the date needs updating."
            )
            evidence = {"overall_status": status, name + "_date": passed.text, name + "_type": kind}
            found.append(_finding(rec, "status_past_completion", detail, evidence))
    if status == "NOT_YET_RECRUITING":
        start, kind = rec.date_struct("startDateStruct")
        if start is not None and clock.after(add_months(start.last, START_GRACE_MONTHS)):
            detail = (
                f"Status is NOT_YET_RECRUITING {clock.since(start.last)} after the start date "
                f"{start.text} ({(kind or 'no type').lower()})."
            )
            evidence = {"overall_status": status, "start_date": start.text, "start_type": kind}
            found.append(_finding(rec, "recruitment_not_started", detail, evidence))
    if status in ONGOING_STATUSES or status == "UNKNOWN":
        verified = rec.plain_date("statusVerifiedDate")
        if verified is not None and clock.after(add_months(verified.last, 12 * VERIFICATION_STALE_YEARS)):
            last_known = rec.text(rec.status, "lastKnownStatus", STATUS_PATH)
            shown = (
                f"the registry shows Unknown status (last known {last_known or 'not given'})"
                if status == "UNKNOWN"
                else f"the registry shows such a {status} record as Unknown status"
            )
            detail = f"Status last verified {verified.text}, {clock.since(verified.last)} ago; {shown}."
            evidence = {"overall_status": status, "status_verified_date": verified.text}
            if last_known:
                evidence["last_known_status"] = last_known
            found.append(_finding(rec, "verification_stale", detail, evidence))
    return found


def _enrollment_shortfall(rec: _Record, previous_anticipated: int | None) -> list[Finding]:
    status = rec.overall_status
    if previous_anticipated is None or status not in ("COMPLETED", "TERMINATED"):
        return []
    count, kind = rec.enrollment()
    if count is None or kind != "ACTUAL" or count >= previous_anticipated * SHORTFALL_SHARE:
        return []
    detail = (
        f"{status} with {count} participants enrolled (actual), "
        f"{count / previous_anticipated:.0%} of the {previous_anticipated} last anticipated."
    )
    evidence = {"overall_status": status, "actual": count, "anticipated": previous_anticipated}
    return [_finding(rec, "enrollment_shortfall", detail, evidence)]


def _inconsistencies(rec: _Record, clock: _Horizon) -> list[Finding]:
    found: list[Finding] = []
    dates: dict[str, tuple[RegistryDate, str]] = {}
    for key, name, label in _DATE_FIELDS:
        when, kind = rec.date_struct(key)
        if when is None:
            continue
        dates[name] = (when, label)
        if kind == "ACTUAL" and clock.before(when.first):
            detail = f"The {label} {when.text} is marked actual but lies {clock.until(when.first)} ahead."
            evidence = {name + "_date": when.text, name + "_type": kind}
            found.append(_finding(rec, "actual_date_in_future", detail, evidence, subject=name))
    for early, late in (
        ("start", "primary_completion"),
        ("start", "completion"),
        ("primary_completion", "completion"),
    ):
        if early in dates and late in dates:
            (first, first_label), (second, second_label) = dates[early], dates[late]
            if second.last < first.first:
                detail = f"The {second_label} {second.text} is before the {first_label} {first.text}."
                evidence = {early + "_date": first.text, late + "_date": second.text}
                found.append(
                    _finding(rec, "dates_out_of_order", detail, evidence, subject=f"{late}_before_{early}")
                )
    status = rec.overall_status
    why = rec.text(rec.status, "whyStopped", STATUS_PATH)
    if status in STOPPED_STATUSES and not (why and why.strip()):
        detail = f"Status is {status} but the record gives no reason why the study stopped (whyStopped)."
        found.append(_finding(rec, "stop_reason_missing", detail, {"overall_status": status}))
    return found


def check_enabled(enabled: Iterable[str] | None) -> frozenset[str]:
    """The codes to run (all when ``enabled`` is None); ValueError naming an unknown code."""
    if enabled is None:
        return frozenset(CODES)
    wanted = frozenset(enabled)
    unknown = sorted(wanted - set(CODES))
    if unknown:
        raise ValueError(f"unknown finding code {', '.join(map(repr, unknown))}; expected some of {CODES}")
    return wanted


def evaluate(
    record: dict[str, Any],
    *,
    as_of: date,
    previous_anticipated: int | None = None,
    enabled: set[str] | None = None,
) -> list[Finding]:
    """The findings on ``record`` as it stands on ``as_of``, highest severity first.

    ``previous_anticipated`` is the last ESTIMATED enrollment of an earlier version (the caller
    reads it from stored versions); without it there is no enrollment-shortfall check. ``enabled``
    limits the checks to those codes. A field of the wrong type or an unreadable date raises
    MalformedRecord naming the record and the field.
    """
    return evaluate_until(record, as_of=as_of, previous_anticipated=previous_anticipated, enabled=enabled)[0]


def evaluate_until(
    record: dict[str, Any],
    *,
    as_of: date,
    previous_anticipated: int | None = None,
    enabled: set[str] | None = None,
) -> tuple[list[Finding], date | None]:
    """``evaluate``, and the first day after ``as_of`` on which the same record could give other
    findings or other wording (None: never, the record's findings do not depend on the date)."""
    wanted = check_enabled(enabled)
    if previous_anticipated is not None and (
        isinstance(previous_anticipated, bool)
        or not isinstance(previous_anticipated, int)
        or previous_anticipated < 0
    ):
        raise ValueError(f"previous_anticipated is {previous_anticipated!r}, expected a whole number")
    if previous_anticipated in (0, ENROLLMENT_UNKNOWN):
        previous_anticipated = None  # nothing anticipated, or the registry's "not known"
    rec = _Record(record)
    clock = _Horizon(as_of)
    found = (
        _results_overdue(rec, clock)
        + _status_out_of_date(rec, clock)
        + _enrollment_shortfall(rec, previous_anticipated)
        + _inconsistencies(rec, clock)
    )
    found = [f for f in found if f.code in wanted]
    # stable sort: check order within a severity
    return sorted(found, key=lambda f: -SEVERITY_RANK[f.severity]), clock.next_change


def reconcile(
    open_before: list[Finding], now: list[Finding]
) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """(new, still_open, resolved) by key: new and still-open findings as they are ``now`` (their detail
    may have moved on), resolved ones as they were last seen. A key repeated in one list counts once."""
    before_keys = {f.key for f in open_before}
    now_by_key: dict[str, Finding] = {}
    for finding in now:
        now_by_key.setdefault(finding.key, finding)
    new = [f for k, f in now_by_key.items() if k not in before_keys]
    still_open = [f for k, f in now_by_key.items() if k in before_keys]
    resolved: dict[str, Finding] = {}
    for finding in open_before:
        if finding.key not in now_by_key:
            resolved.setdefault(finding.key, finding)
    return new, still_open, list(resolved.values())


# --- rendering ---------------------------------------------------------------------------------

FORMATS = ("json", "text")


def render_findings(
    findings: list[Finding], fmt: str, *, title: str = "", nct_id: str = "", as_of: date
) -> str:
    """json: a list of finding objects (strict JSON); text: a plain report in the digest's manner."""
    if fmt == "json":
        return safejson.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    lines = [f"Findings for {nct_id or 'the record'} as of {as_of.isoformat()}"]
    if title:
        lines.append(title)
    if nct_id:
        lines.append(f"Record: {study_url(nct_id)}")
    if not findings:
        lines += ["", "No findings."]
        return "\n".join(lines) + "\n"
    severities = [(s, sum(f.severity == s for f in findings)) for s in SEVERITIES]
    categories: dict[str, int] = {}
    for finding in findings:
        categories[finding.category] = categories.get(finding.category, 0) + 1
    count = len(findings)
    lines += [
        "",
        f"{count} finding{'' if count == 1 else 's'}: " + ", ".join(f"{n} {s}" for s, n in severities if n),
        "By category: " + ", ".join(f"{c} {n}" for c, n in categories.items()),
    ]
    for finding in findings:
        lines += [
            "",
            f"  [{finding.severity.upper()}] {finding.title} ({finding.category})",
            f"    {finding.detail}",
            f"    Rule: {finding.rule} · certainty {finding.certainty}",
        ]
    return "\n".join(lines) + "\n"


def findings_report(
    record: dict[str, Any],
    as_of: date,
    fmt: str,
    *,
    previous_anticipated: int | None = None,
    enabled: set[str] | None = None,
) -> str:
    """What ``trialwatch findings RECORD.json --format FMT --as-of DATE`` prints for ``record``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    findings = evaluate(record, as_of=as_of, previous_anticipated=previous_anticipated, enabled=enabled)
    return render_findings(findings, fmt, title=brief_title(record), nct_id=check_study(record), as_of=as_of)
