"""Human words for the registry's codes, and one colour per severity.

The registry speaks in enum codes (``ACTIVE_NOT_RECRUITING``, ``PHASE1``, ``ESTIMATED``); a trial
office reads words. Every reader-facing output (the digest's HTML and text, Trial Watch, the Atom
feed, the CSV's label column) takes its words from here, so they never disagree. Codes keep their
place wherever a machine reads them (the store, the JSON API, the CSV's code column).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Enum values as listed by the registry's GET /studies/enums (see docs/reference/ctgov-api.md).
ENUMS: dict[str, dict[str, str]] = {
    "status": {
        "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
        "COMPLETED": "Completed",
        "ENROLLING_BY_INVITATION": "Enrolling by invitation",
        "NOT_YET_RECRUITING": "Not yet recruiting",
        "RECRUITING": "Recruiting",
        "SUSPENDED": "Suspended",
        "TERMINATED": "Terminated",
        "WITHDRAWN": "Withdrawn",
        "AVAILABLE": "Available",
        "NO_LONGER_AVAILABLE": "No longer available",
        "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
        "APPROVED_FOR_MARKETING": "Approved for marketing",
        "WITHHELD": "Withheld",
        "UNKNOWN": "Unknown status",
    },
    "phase": {
        "NA": "Not applicable",
        "EARLY_PHASE1": "Early phase 1",
        "PHASE1": "Phase 1",
        "PHASE2": "Phase 2",
        "PHASE3": "Phase 3",
        "PHASE4": "Phase 4",
    },
    "study_type": {
        "INTERVENTIONAL": "Interventional",
        "OBSERVATIONAL": "Observational",
        "EXPANDED_ACCESS": "Expanded access",
    },
    # DateType and EnrollmentType share these two values.
    "date_type": {"ACTUAL": "actual", "ESTIMATED": "estimated"},
    "allocation": {"RANDOMIZED": "Randomized", "NON_RANDOMIZED": "Non-randomized"},
    "intervention_model": {
        "SINGLE_GROUP": "Single group",
        "PARALLEL": "Parallel",
        "CROSSOVER": "Crossover",
        "FACTORIAL": "Factorial",
        "SEQUENTIAL": "Sequential",
    },
    "masking": {
        "NONE": "None (open label)",
        "SINGLE": "Single blind",
        "DOUBLE": "Double blind",
        "TRIPLE": "Triple blind",
        "QUADRUPLE": "Quadruple blind",
    },
    "who_masked": {
        "PARTICIPANT": "Participant",
        "CARE_PROVIDER": "Care provider",
        "INVESTIGATOR": "Investigator",
        "OUTCOMES_ASSESSOR": "Outcomes assessor",
    },
    "primary_purpose": {
        "TREATMENT": "Treatment",
        "PREVENTION": "Prevention",
        "DIAGNOSTIC": "Diagnostic",
        "ECT": "Educational / counseling / training",
        "SUPPORTIVE_CARE": "Supportive care",
        "SCREENING": "Screening",
        "HEALTH_SERVICES_RESEARCH": "Health services research",
        "BASIC_SCIENCE": "Basic science",
        "DEVICE_FEASIBILITY": "Device feasibility",
        "OTHER": "Other",
    },
    "sex": {"ALL": "All", "FEMALE": "Female", "MALE": "Male"},
    "standard_age": {"CHILD": "Child", "ADULT": "Adult", "OLDER_ADULT": "Older adult"},
    "arm_group_type": {
        "EXPERIMENTAL": "Experimental",
        "ACTIVE_COMPARATOR": "Active comparator",
        "PLACEBO_COMPARATOR": "Placebo comparator",
        "SHAM_COMPARATOR": "Sham comparator",
        "NO_INTERVENTION": "No intervention",
        "OTHER": "Other",
    },
    "intervention_type": {
        "BEHAVIORAL": "Behavioral",
        "BIOLOGICAL": "Biological",
        "COMBINATION_PRODUCT": "Combination product",
        "DEVICE": "Device",
        "DIAGNOSTIC_TEST": "Diagnostic test",
        "DIETARY_SUPPLEMENT": "Dietary supplement",
        "DRUG": "Drug",
        "GENETIC": "Genetic",
        "PROCEDURE": "Procedure",
        "RADIATION": "Radiation",
        "OTHER": "Other",
    },
    "agency_class": {
        "NIH": "NIH",
        "FED": "U.S. federal agency",
        "OTHER_GOV": "Other government",
        "INDIV": "Individual",
        "INDUSTRY": "Industry",
        "NETWORK": "Network",
        "AMBIG": "Ambiguous",
        "OTHER": "Other",
        "UNKNOWN": "Unknown",
    },
    "responsible_party": {
        "SPONSOR": "Sponsor",
        "PRINCIPAL_INVESTIGATOR": "Principal investigator",
        "SPONSOR_INVESTIGATOR": "Sponsor-investigator",
    },
}

# The record's key that holds a value of each enum (the last key of its path).
_KEY_ENUM: dict[str, str] = {
    "overallStatus": "status",
    "lastKnownStatus": "status",
    "status": "status",  # locations[].status
    "phases": "phase",
    "studyType": "study_type",
    "allocation": "allocation",
    "interventionModel": "intervention_model",
    "masking": "masking",
    "whoMasked": "who_masked",
    "primaryPurpose": "primary_purpose",
    "sex": "sex",
    "stdAges": "standard_age",
    "class": "agency_class",
}

# Any code, whatever its enum: the first enum listing it names it (codes shared by several enums,
# like OTHER, read the same in each).
_ANY_CODE: dict[str, str] = {}
for _labels in ENUMS.values():
    for _code, _label in _labels.items():
        _ANY_CODE.setdefault(_code, _label)

_CODE = re.compile(r"[A-Z][A-Z0-9_]*")

SEVERITY_LABELS: dict[str, str] = {
    "critical": "Critical",
    "major": "Major",
    "minor": "Minor",
    "info": "Info",
}
# One colour per severity for the email and Trial Watch (white text on it passes WCAG AA).
SEVERITY_COLORS: dict[str, str] = {
    "critical": "#b42318",
    "major": "#b54708",
    "minor": "#175cd3",
    "info": "#475467",
}
# Status lanes in Trial Watch's charts: recruiting greens, paused/stopped warm, finished grey-blue.
STATUS_COLORS: dict[str, str] = {
    "NOT_YET_RECRUITING": "#7a8fa6",
    "RECRUITING": "#1a7f37",
    "ENROLLING_BY_INVITATION": "#2f9e6a",
    "ACTIVE_NOT_RECRUITING": "#3b6fb6",
    "COMPLETED": "#5b4a9e",
    "SUSPENDED": "#c4570b",
    "TERMINATED": "#b42318",
    "WITHDRAWN": "#8e1b3a",
}
OTHER_STATUS_COLOR = "#8895a7"


def label(code: Any, enum: str | None = None) -> str:
    """The words for a registry code: ``label("PHASE1") == "Phase 1"``; unknown text comes back as is.

    ``enum`` picks one table (see ``ENUMS``); without it the code is looked up in all of them. A code
    the registry added after this table was written reads as its words in sentence case.
    """
    if code is None or code == "":
        return ""
    text = str(code)
    table = ENUMS.get(enum, {}) if enum else _ANY_CODE
    if text in table:
        return table[text]
    if enum is None and text in _ANY_CODE:
        return _ANY_CODE[text]
    if _CODE.fullmatch(text) and "_" in text:
        return text.replace("_", " ").capitalize()
    return text


def status_label(code: str | None) -> str:
    """An overall or site status in words; ``"unknown"`` when the record gives none."""
    return label(code, "status") if code else "unknown"


def labels(codes: Any, enum: str | None = None) -> str:
    """A list of codes as words joined by commas (``["PHASE1", "PHASE2"]`` → ``"Phase 1, Phase 2"``)."""
    if codes is None:
        return ""
    if isinstance(codes, str):
        return label(codes, enum)
    return ", ".join(label(code, enum) for code in codes)


def enum_for_path(path: str | None) -> str | None:
    """Which enum a value at a record path holds, from the path's last key (``…phases[0]`` → phase)."""
    if not path:
        return None
    last = re.sub(r"\[[^\]]*\]", "", path).rsplit(".", 1)[-1]
    return _KEY_ENUM.get(last)


def humanise(value: Any, path: str | None = None) -> Any:
    """``value`` with every registry code in it turned into words, recursively (dicts keep their keys).

    A date or enrollment struct's ``type`` becomes "actual"/"estimated"; strings that are not codes
    (titles, names, free text) are left alone.
    """
    enum = enum_for_path(path)
    if isinstance(value, str):
        if enum is None and not (_CODE.fullmatch(value) and value in _ANY_CODE):
            return value
        return label(value, enum)
    if isinstance(value, list):
        return [humanise(item, path) for item in value]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "type" and isinstance(item, str):
                out[key] = label(item, "date_type" if item in ENUMS["date_type"] else None)
            elif isinstance(item, str | list) and key in _KEY_ENUM:
                out[key] = humanise(item, key)
            else:
                out[key] = item
        return out
    return value


_WORDY = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")
# Codes safe to replace inside a sentence: nobody writes these words in capitals for another reason.
_TEXT_CODES = {
    code: words
    for code, words in _ANY_CODE.items()
    if "_" in code
    or any(ch.isdigit() for ch in code)
    or code in ENUMS["date_type"]
    or code in ENUMS["status"]
}


def humanise_text(text: str) -> str:
    """A sentence with the registry codes in it as words ("ESTIMATED → ACTUAL" → "estimated → actual")."""
    return _WORDY.sub(lambda match: _TEXT_CODES.get(match.group(0), match.group(0)), text)
