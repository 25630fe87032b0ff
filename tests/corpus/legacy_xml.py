"""Classic ClinicalTrials.gov XML (``<clinical_study>``, retired in 2024) in the API v2 shape.

Real captures of one record at two dates exist mostly in the classic format. This converter moves
only the fields trialwatch compares into the API v2 paths, one rule per field, the same way for
both captures of a pair, so a difference in its output is a difference in the registry's text:

- enumerations: the classic label in upper case with spaces and punctuation as ``_``
  ("Not yet recruiting" → ``NOT_YET_RECRUITING``), except where API v2 names the value otherwise
  (``PHASE_TABLE``, ``MASKING_ROLES``, ...);
- dates: "December 2015" → ``2015-12``, "November 5, 2015" → ``2015-11-05``; a date's ``type``
  "Anticipated" or "Estimate" → ``ESTIMATED``, "Actual" → ``ACTUAL``;
- text blocks: the registry wrapped them at 100 characters with a fixed indent; the lines of a
  paragraph are joined with one space, as API v2 returns them;
- ``phase`` "N/A" → ``phases: ["NA"]``; masking "Single Blind (Subject)" (the vocabulary before
  2017) and "Single (Participant)" both → ``SINGLE`` with ``whoMasked: ["PARTICIPANT"]``; a masking
  that only lists the roles (2017: "Participant, Care Provider") counts them (``DOUBLE``); "No
  masking" (August 2017), "Open Label" and "None (Open Label)" are all ``NONE``; in the
  old vocabulary the count is the number of roles named ("Double Blind (Subject, Caregiver,
  Investigator, Outcomes Assessor)" → ``QUADRUPLE``, as the registry re-wrote it in 2017);
- an arm's ``interventionNames`` are "Type: name" of the interventions that list the arm;
- the vocabulary before 2017: one ``<study_design>`` line ("Allocation: Randomized, Masking: Open
  Label, ...") is read as the ``<study_design_info>`` elements its keys name, and ``gender`` "Both"
  is ``ALL``.

Left out: results, MeSH browse terms, responsible party, dates of bookkeeping beyond
``lastUpdatePostDateStruct`` and ``statusVerifiedDate``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

PHASE_TABLE = {"N/A": ["NA"], "Early Phase 1": ["EARLY_PHASE1"]}
MASKING_ROLES = {
    "subject": "PARTICIPANT",
    "participant": "PARTICIPANT",
    "caregiver": "CARE_PROVIDER",
    "care provider": "CARE_PROVIDER",
    "investigator": "INVESTIGATOR",
    "outcomes assessor": "OUTCOMES_ASSESSOR",
}
MASKING_COUNT = {"none": "NONE", "open label": "NONE", "single": "SINGLE", "double": "DOUBLE"}
MASKING_COUNT |= {"no masking": "NONE"}  # the registry's wording in August 2017 (NCT01341288)
MASKING_COUNT |= {"triple": "TRIPLE", "quadruple": "QUADRUPLE"}
MASKING_BY_ROLES = {1: "SINGLE", 2: "DOUBLE", 3: "TRIPLE", 4: "QUADRUPLE"}  # roles listed without a count
INTERVENTION_MODEL = {"Single Group Assignment": "SINGLE_GROUP"}
DATE_TYPES = {"Anticipated": "ESTIMATED", "Estimate": "ESTIMATED", "Actual": "ACTUAL"}
SEX = {"Both": "ALL"}
SPONSOR_CLASS = {"U.S. Fed": "FED", "NIH": "NIH", "Industry": "INDUSTRY", "Other": "OTHER"}


def enum(label: str | None) -> str | None:
    if label is None:
        return None
    return re.sub(r"[^A-Z0-9]+", "_", label.upper()).strip("_")


def text(node: ET.Element | None, tag: str) -> str | None:
    found = node.find(tag) if node is not None else None
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def textblock(node: ET.Element | None, tag: str) -> str | None:
    """A wrapped ``<textblock>`` as one line per paragraph, paragraphs split by a blank line."""
    raw = text(node, f"{tag}/textblock")
    if raw is None:
        return None
    paragraphs = re.split(r"\n\s*\n", raw)
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def criteria(node: ET.Element | None) -> str | None:
    """Eligibility keeps its item lines (the diff matches items), each line stripped."""
    raw = text(node, "criteria/textblock")
    if raw is None:
        return None
    items = re.split(r"\n\s*\n", raw)
    return "\n\n".join(" ".join(line.strip() for line in item.splitlines()) for item in items)


def date(value: str | None) -> str | None:
    if value is None:
        return None
    for pattern, out in (("%B %d, %Y", "%Y-%m-%d"), ("%B %Y", "%Y-%m")):
        try:
            return datetime.strptime(value, pattern).strftime(out)
        except ValueError:
            continue
    raise ValueError(f"unknown classic date {value!r}")


def date_struct(root: ET.Element, tag: str) -> dict[str, Any] | None:
    node = root.find(tag)
    if node is None or not (node.text or "").strip():
        return None
    struct: dict[str, Any] = {"date": date(node.text.strip())}
    if node.get("type"):
        struct["type"] = DATE_TYPES[node.get("type", "")]
    return struct


def masking(label: str | None) -> dict[str, Any] | None:
    """ "Single Blind (Subject)" and "Single (Participant)" → SINGLE, [PARTICIPANT]."""
    if label is None:
        return None
    listed = [role.strip().lower() for role in label.split(",")]
    if all(role in MASKING_ROLES for role in listed):  # 2017: "Participant, Investigator", no count
        return {"masking": MASKING_BY_ROLES[len(listed)], "whoMasked": [MASKING_ROLES[r] for r in listed]}
    match = re.match(r"\s*([A-Za-z ]+?)(?: Blind)?\s*(?:\((.*)\))?\s*$", label)
    if match is None:
        raise ValueError(f"unknown masking {label!r}")
    count, roles = match.group(1).strip().lower(), match.group(2)
    info: dict[str, Any] = {"masking": MASKING_COUNT[count]}
    if roles and count not in ("none", "open label"):
        info["whoMasked"] = [MASKING_ROLES[r.strip().lower()] for r in roles.split(",")]
        if " Blind" in label:  # before 2017 "Double Blind" meant blinded; the roles give the count
            info["masking"] = MASKING_BY_ROLES[len(info["whoMasked"])]
    return info


def design_info(root: ET.Element) -> ET.Element | None:
    """``<study_design_info>``, or the pre-2017 one-line ``<study_design>`` split into its elements."""
    design = root.find("study_design_info")
    line = text(root, "study_design")
    if design is not None or line is None:
        return design
    design = ET.Element("study_design_info")
    for part in re.split(r",\s*(?=[A-Z][A-Za-z ]*:)", line):
        key, _, value = part.partition(":")
        ET.SubElement(design, key.strip().lower().replace(" ", "_")).text = value.strip()
    return design


def contact(node: ET.Element) -> dict[str, Any]:
    return {"name": text(node, "last_name"), "phone": text(node, "phone"), "email": text(node, "email")}


def prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def to_api_v2(xml_text: str) -> dict[str, Any]:
    root = ET.fromstring(xml_text.encode("utf-8"))
    design = design_info(root)
    eligibility = root.find("eligibility")
    interventions = root.findall("intervention")
    phase = text(root, "phase")
    enrollment = root.find("enrollment")
    arms = []
    for arm in root.findall("arm_group"):
        label = text(arm, "arm_group_label")
        names = [
            f"{text(i, 'intervention_type')}: {text(i, 'intervention_name')}"
            for i in interventions
            if label in [a.text for a in i.findall("arm_group_label")]
        ]
        arms.append(
            {
                "label": label,
                "type": enum(text(arm, "arm_group_type")),
                "description": text(arm, "description"),
                "interventionNames": names,
            }
        )
    model = text(design, "intervention_model")
    study = {
        "protocolSection": {
            "identificationModule": {
                "nctId": text(root, "id_info/nct_id"),
                "orgStudyIdInfo": {"id": text(root, "id_info/org_study_id")},
                "briefTitle": text(root, "brief_title"),
                "officialTitle": text(root, "official_title"),
                "acronym": text(root, "acronym"),
            },
            "statusModule": {
                "statusVerifiedDate": date(text(root, "verification_date")),
                "overallStatus": enum(text(root, "overall_status")),
                "whyStopped": text(root, "why_stopped"),
                "startDateStruct": date_struct(root, "start_date"),
                "primaryCompletionDateStruct": date_struct(root, "primary_completion_date"),
                "completionDateStruct": date_struct(root, "completion_date"),
                "lastUpdatePostDateStruct": date_struct(root, "last_update_posted"),
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {
                    "name": text(root, "sponsors/lead_sponsor/agency"),
                    "class": SPONSOR_CLASS.get(text(root, "sponsors/lead_sponsor/agency_class") or ""),
                },
                "collaborators": [
                    {"name": text(c, "agency"), "class": SPONSOR_CLASS.get(text(c, "agency_class") or "")}
                    for c in root.findall("sponsors/collaborator")
                ],
            },
            "oversightModule": {
                "oversightHasDmc": {"Yes": True, "No": False}.get(text(root, "oversight_info/has_dmc") or "")
            },
            "descriptionModule": {
                "briefSummary": textblock(root, "brief_summary"),
                "detailedDescription": textblock(root, "detailed_description"),
            },
            "conditionsModule": {
                "conditions": [c.text for c in root.findall("condition")],
                "keywords": [k.text for k in root.findall("keyword")],
            },
            "designModule": {
                "studyType": enum(text(root, "study_type")),
                "phases": PHASE_TABLE.get(phase or "", [enum(p) for p in (phase or "").split("/") if p]),
                "designInfo": {
                    "allocation": {"N/A": "NA"}.get(
                        text(design, "allocation") or "", enum(text(design, "allocation"))
                    ),
                    "interventionModel": INTERVENTION_MODEL.get(
                        model or "", enum((model or "").replace(" Assignment", "")) or None
                    ),
                    "primaryPurpose": enum(text(design, "primary_purpose")),
                    "observationalModel": enum(text(design, "observational_model")),
                    "timePerspective": enum(text(design, "time_perspective")),
                    "maskingInfo": masking(text(design, "masking")),
                },
                "enrollmentInfo": None
                if enrollment is None
                else {"count": int(enrollment.text or 0), "type": DATE_TYPES.get(enrollment.get("type", ""))},
            },
            "armsInterventionsModule": {
                "armGroups": arms,
                "interventions": [
                    {
                        "type": enum(text(i, "intervention_type")),
                        "name": text(i, "intervention_name"),
                        "description": text(i, "description"),
                        "armGroupLabels": [a.text for a in i.findall("arm_group_label")],
                        "otherNames": [o.text for o in i.findall("other_name")],
                    }
                    for i in interventions
                ],
            },
            "outcomesModule": {
                f"{kind}Outcomes": [
                    {
                        "measure": text(o, "measure"),
                        "description": text(o, "description"),
                        "timeFrame": text(o, "time_frame"),
                    }
                    for o in root.findall(f"{kind}_outcome")
                ]
                for kind in ("primary", "secondary", "other")
            },
            "eligibilityModule": {
                "eligibilityCriteria": criteria(eligibility),
                "healthyVolunteers": {"Accepts Healthy Volunteers": True, "Yes": True, "No": False}.get(
                    text(eligibility, "healthy_volunteers") or ""
                ),
                "sex": SEX.get(text(eligibility, "gender") or "", enum(text(eligibility, "gender"))),
                "minimumAge": None
                if text(eligibility, "minimum_age") == "N/A"
                else text(eligibility, "minimum_age"),
                "maximumAge": None
                if text(eligibility, "maximum_age") == "N/A"
                else text(eligibility, "maximum_age"),
                "studyPopulation": textblock(eligibility, "study_pop"),
                "samplingMethod": enum(text(eligibility, "sampling_method")),
            },
            "contactsLocationsModule": {
                "centralContacts": [
                    {**contact(c), "role": "CONTACT"}
                    for c in root.findall("overall_contact") + root.findall("overall_contact_backup")
                ],
                "overallOfficials": [
                    {
                        "name": text(o, "last_name"),
                        "affiliation": text(o, "affiliation"),
                        "role": enum(text(o, "role")),
                    }
                    for o in root.findall("overall_official")
                ],
                "locations": [
                    {
                        "facility": text(site, "facility/name"),
                        "status": enum(text(site, "status")),
                        "city": text(site, "facility/address/city"),
                        "state": text(site, "facility/address/state"),
                        "zip": text(site, "facility/address/zip"),
                        "country": text(site, "facility/address/country"),
                        "contacts": [
                            {**contact(c), "role": "CONTACT"}
                            for c in site.findall("contact") + site.findall("contact_backup")
                        ],
                    }
                    for site in root.findall("location")
                ],
            },
            "referencesModule": {
                "references": [
                    {"pmid": text(r, "PMID"), "type": kind, "citation": text(r, "citation")}
                    for tag, kind in (("reference", "BACKGROUND"), ("results_reference", "RESULT"))
                    for r in root.findall(tag)
                ],
                "seeAlsoLinks": [
                    {"label": text(link, "description"), "url": text(link, "url")}
                    for link in root.findall("link")
                ],
            },
        }
    }
    return prune(study)
