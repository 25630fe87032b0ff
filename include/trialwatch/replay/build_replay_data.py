"""Build the replay registry's data: the two seed trials' version files and ``timeline.json``.

Run once after changing the facts below (``python -m trialwatch.replay.build_replay_data``); the
output is committed and is what the server serves. Facts printed on the seed pages
(``data/seeds/*.txt``) are taken from there (long texts are parsed out of the pages, short ones are
checked against them); everything else is marked illustrative in ``data/SOURCES.md``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
SEEDS_DIR = DATA_DIR / "seeds"
SAMPLES_DIR = DATA_DIR / "samples"
API_VERSION = "2.0.5"

# Named time points. Each day is one data build of the registry.
DAYS: list[dict[str, Any]] = [
    {"day": 1, "date": "2026-10-05", "dataTimestamp": "2026-10-05T09:00:04"},
    {"day": 2, "date": "2026-10-09", "dataTimestamp": "2026-10-09T09:00:06"},
]

# The real noise-only pair: same registry version, re-served by a later data build.
NOISE_PAIR = {
    "nct_id": "NCT02552212",
    "first": "samples/study_NCT02552212__vh2023-12-12.json",
    "rebuilt": "samples/study_NCT02552212__vh2024-01-03.json",
    "from_day": 2,
}


@dataclass
class VersionState:
    """What differs between versions of a seed record; the rest comes from the seed page."""

    date: str  # posting date of the version = lastUpdatePostDate
    submitted: str  # lastUpdateSubmitDate
    status: str
    enrollment: tuple[int, str]
    start: tuple[str, str]
    primary_completion: tuple[str, str]
    completion: tuple[str, str]
    module_labels: list[str] = field(default_factory=list)
    site_status: str | None = None  # applied to every site; None = sites carry no status
    with_sites: bool = True


# ----------------------------------------------------------------------------- seed page parsing


def seed_text(nct_id: str) -> str:
    return (SEEDS_DIR / f"{nct_id}_ctv_veeva_page.txt").read_text(encoding="utf-8")


def section(text: str, start: str, end: str) -> list[str]:
    """The lines between two headings of a seed page."""
    match = re.search(rf"^{re.escape(start)}\n(.*?)^{re.escape(end)}\n", text, re.DOTALL | re.MULTILINE)
    if not match:
        raise ValueError(f"seed page has no section between {start!r} and {end!r}")
    return match.group(1).splitlines()


def paragraphs(lines: list[str]) -> str:
    return "\n\n".join(line.strip() for line in lines if line.strip())


def criteria_markdown(lines: list[str]) -> str:
    """Veeva's bullet layout -> the registry's markdown (``* item`` lists, blank line between blocks)."""
    blocks: list[str] = []
    bullets: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("•"):
            bullets.append("* " + line.lstrip("•").strip())
            continue
        if bullets:
            blocks.append("\n".join(bullets))
            bullets = []
        blocks.append(line)
    if bullets:
        blocks.append("\n".join(bullets))
    return "\n\n".join(blocks)


def eligibility_text(text: str) -> str:
    inclusion = criteria_markdown(section(text, "Inclusion criteria", "Exclusion criteria"))
    exclusion = criteria_markdown(section(text, "Exclusion criteria", "Trial design"))
    return f"Inclusion Criteria:\n\n{inclusion}\n\nExclusion Criteria:\n\n{exclusion}"


def require_on_page(text: str, *facts: str) -> None:
    for fact in facts:
        if fact not in text:
            raise ValueError(f"seed page does not say {fact!r}; fix the fact or mark it illustrative")


# ----------------------------------------------------------------------------- the two seed trials


def date_struct(pair: tuple[str, str]) -> dict[str, str]:
    return {"date": pair[0], "type": pair[1]}


def open_label_single_group_phase1() -> dict[str, Any]:
    """The design both seed pages state: Phase 1, N/A allocation, single group, open label, treatment."""
    return {
        "studyType": "INTERVENTIONAL",
        "phases": ["PHASE1"],
        "designInfo": {
            "allocation": "NA",
            "interventionModel": "SINGLE_GROUP",
            "primaryPurpose": "TREATMENT",
            "maskingInfo": {"masking": "NONE"},
        },
    }


def nct02185781_base() -> dict[str, Any]:
    text = seed_text("NCT02185781")
    title = (
        "Phase I Study of Adoptive Immunotherapy With Enriched and Expanded Autologous Natural Killer (NK) "
        "Cells for Patients With Ph+ Acute Lymphoblastic Leukemia (ALL)"
    )
    sponsor = "Gruppo Italiano Malattie EMatologiche dell'Adulto"
    conditions = [
        "Persistent/Recurrent Minimal Residual Disease (MRD)",
        "Acute Lymphoblastic Leukemia",
        "Complete Hematologic Remission (CHR)",
    ]
    intervention = "Autologous NK cells infusions"
    arm = "Autologous NK Cells infusions"
    require_on_page(text, title, sponsor, *conditions, f"Other: {intervention}", arm, "LAL 2013", "Phase 1")
    sites = [
        (
            "Azienda Ospedaliera Universitaria Policlinico Umberto I",
            "Roma",
            "Lazio",
            "00161",
            41.89193,
            12.51133,
        ),
        (
            "Istituto di Ematologia Seràgnoli, IRCCS Policlinico di Sant'Orsola",
            "Bologna",
            "Emilia-Romagna",
            "40138",
            44.49381,
            11.33875,
        ),
        ("ASST Papa Giovanni XXIII", "Bergamo", "Lombardia", "24127", 45.69601, 9.66721),
        ("Azienda Ospedaliero-Universitaria Careggi", "Firenze", "Toscana", "50134", 43.77925, 11.24626),
        (
            "AOU Città della Salute e della Scienza di Torino",
            "Torino",
            "Piemonte",
            "10126",
            45.07049,
            7.68682,
        ),
        ("Azienda Ospedaliera Universitaria Federico II", "Napoli", "Campania", "80131", 40.85216, 14.26811),
    ]
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": "NCT02185781",
                "orgStudyIdInfo": {"id": "LAL 2013"},
                "organization": {"fullName": sponsor, "class": "OTHER"},
                "briefTitle": title,
                "officialTitle": title + " in Complete Hematologic Remission With Persistent/Recurrent "
                "Minimal Residual Disease",
            },
            "statusModule": {
                "expandedAccessInfo": {"hasExpandedAccess": False},
                "studyFirstSubmitDate": "2014-07-08",
                "studyFirstSubmitQcDate": "2014-07-08",
                "studyFirstPostDateStruct": {"date": "2014-07-10", "type": "ESTIMATED"},
            },
            "sponsorCollaboratorsModule": {
                "responsibleParty": {"type": "SPONSOR"},
                "leadSponsor": {"name": sponsor, "class": "OTHER"},
            },
            "oversightModule": {"oversightHasDmc": True},
            "descriptionModule": {
                "briefSummary": paragraphs(section(text, "About", "Full description")),
                "detailedDescription": paragraphs(section(text, "Full description", "Enrollment")),
            },
            "conditionsModule": {
                "conditions": conditions,
                "keywords": ["NK cells", "adoptive immunotherapy", "Ph+ ALL", "minimal residual disease"],
            },
            "designModule": open_label_single_group_phase1(),
            "armsInterventionsModule": {
                "armGroups": [
                    {"label": arm, "type": "EXPERIMENTAL", "interventionNames": [f"Other: {intervention}"]}
                ],
                "interventions": [
                    {
                        "type": "OTHER",
                        "name": intervention,
                        "description": "Escalating doses of enriched and ex-vivo expanded autologous NK cells, "
                        "infused without prior conditioning.",
                        "armGroupLabels": [arm],
                    }
                ],
            },
            "outcomesModule": {
                "primaryOutcomes": [
                    {
                        "measure": "Number of participants with adverse events",
                        "description": "Safety and tolerability of escalating doses of expanded autologous NK "
                        "cells, graded by NCI CTCAE v4.0.",
                        "timeFrame": "12 months after the last infusion",
                    }
                ],
                "secondaryOutcomes": [
                    {
                        "measure": "Minimal residual disease response",
                        "description": "Change in BCR-ABL1 transcript levels measured by RQ-PCR.",
                        "timeFrame": "12 months after the last infusion",
                    }
                ],
            },
            "eligibilityModule": {
                "eligibilityCriteria": eligibility_text(text),
                "healthyVolunteers": False,
                "sex": "ALL",
                "minimumAge": "60 Years",
                "stdAges": ["OLDER_ADULT"],
            },
            "contactsLocationsModule": {
                "locations": [
                    {
                        "facility": facility,
                        "city": city,
                        "state": state,
                        "zip": zip_code,
                        "country": "Italy",
                        "geoPoint": {"lat": lat, "lon": lon},
                    }
                    for facility, city, state, zip_code, lat, lon in sites
                ]
            },
        },
        "derivedSection": {
            "miscInfoModule": {"versionHolder": ""},
            "conditionBrowseModule": {
                "meshes": [
                    {"id": "D000054198", "term": "Precursor Cell Lymphoblastic Leukemia-Lymphoma"},
                    {"id": "D000018365", "term": "Neoplasm, Residual"},
                ],
                "ancestors": [
                    {"id": "D000007938", "term": "Leukemia"},
                    {"id": "D000009370", "term": "Neoplasms by Histologic Type"},
                ],
            },
        },
        "hasResults": False,
    }


NCT02185781_VERSIONS = [
    VersionState(
        "2014-07-10",
        "2014-07-08",
        "NOT_YET_RECRUITING",
        (12, "ESTIMATED"),
        ("2014-09", "ESTIMATED"),
        ("2016-09", "ESTIMATED"),
        ("2017-03", "ESTIMATED"),
        [],
        with_sites=False,
    ),
    VersionState(
        "2015-01-14",
        "2015-01-12",
        "RECRUITING",
        (12, "ESTIMATED"),
        ("2014-11", "ACTUAL"),
        ("2016-09", "ESTIMATED"),
        ("2017-03", "ESTIMATED"),
        ["Study Status", "Contacts/Locations"],
    ),
    VersionState(
        "2018-02-20",
        "2018-02-16",
        "RECRUITING",
        (12, "ESTIMATED"),
        ("2014-11", "ACTUAL"),
        ("2020-12", "ESTIMATED"),
        ("2021-06", "ESTIMATED"),
        ["Study Status"],
    ),
    VersionState(
        "2025-03-11",
        "2025-03-07",
        "RECRUITING",
        (12, "ESTIMATED"),
        ("2014-11", "ACTUAL"),
        ("2026-12-31", "ESTIMATED"),
        ("2027-06-30", "ESTIMATED"),
        ["Study Status"],
    ),
    VersionState(
        "2026-10-07",
        "2026-10-06",
        "ACTIVE_NOT_RECRUITING",
        (6, "ACTUAL"),
        ("2014-11", "ACTUAL"),
        ("2026-09-30", "ACTUAL"),
        ("2026-12-31", "ESTIMATED"),
        ["Study Status", "Study Design"],
    ),
    VersionState(
        "2026-10-08",
        "2026-10-07",
        "COMPLETED",
        (6, "ACTUAL"),
        ("2014-11", "ACTUAL"),
        ("2026-09-30", "ACTUAL"),
        ("2026-10-02", "ACTUAL"),
        ["Study Status"],
    ),
]


def nct04327037_base() -> dict[str, Any]:
    text = seed_text("NCT04327037")
    title = "Safety of Expanded Haploidentical Natural Killer Cells for Leukemia"
    sponsor = "Belarusian Research Center for Pediatric Oncology, Hematology and Immunology"
    conditions = ["Leukemia, Acute Lymphoblastic", "Leukemia, Acute Myeloid"]
    nk_cells = "Expanded Haploidentical Natural Killer cells"
    arm = "NK cells + IL-2"
    arm_description = (
        "After cycle of chemotherapy patient receive one intravenous infusion of expanded haploidentical NK "
        "cells on day 0. On alternate days, 6 doses of subcutaneous IL-2 is administered with start on day -1."
    )
    require_on_page(
        text,
        title,
        sponsor,
        *conditions,
        f"Biological: {nk_cells}",
        "Drug: IL-2",
        arm,
        arm_description,
        "BelarusianPediatric_NK_Pilot",
        "1 to 30 years old",
    )
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": "NCT04327037",
                "orgStudyIdInfo": {"id": "BelarusianPediatric_NK_Pilot"},
                "organization": {"fullName": sponsor, "class": "OTHER"},
                "briefTitle": title,
                "officialTitle": "Pilot Study of the Safety of Ex Vivo Expanded Haploidentical Natural Killer "
                "Cells in Children and Young Adults With Relapsed or Refractory Leukemia",
            },
            "statusModule": {
                "expandedAccessInfo": {"hasExpandedAccess": False},
                "studyFirstSubmitDate": "2020-03-25",
                "studyFirstSubmitQcDate": "2020-03-27",
                "studyFirstPostDateStruct": {"date": "2020-03-31", "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {
                "responsibleParty": {"type": "SPONSOR"},
                "leadSponsor": {"name": sponsor, "class": "OTHER"},
            },
            "oversightModule": {
                "oversightHasDmc": False,
                "isFdaRegulatedDrug": False,
                "isFdaRegulatedDevice": False,
            },
            "descriptionModule": {
                "briefSummary": paragraphs(section(text, "About", "Full description")),
                "detailedDescription": paragraphs(section(text, "Full description", "Enrollment")),
            },
            "conditionsModule": {"conditions": conditions, "keywords": ["NK cells", "immunotherapy"]},
            "designModule": open_label_single_group_phase1(),
            "armsInterventionsModule": {
                "armGroups": [
                    {
                        "label": arm,
                        "type": "EXPERIMENTAL",
                        "description": arm_description,
                        "interventionNames": [f"Biological: {nk_cells}", "Drug: IL-2"],
                    }
                ],
                "interventions": [
                    {
                        "type": "DRUG",
                        "name": "IL-2",
                        "description": "6 doses of subcutaneous IL-2 every second day, starting on day -1.",
                        "armGroupLabels": [arm],
                        "otherNames": ["Interleukin-2"],
                    },
                    {
                        "type": "BIOLOGICAL",
                        "name": nk_cells,
                        "description": "Haploidentical NK cells expanded ex vivo on K562 feeder cells expressing "
                        "4-1BBL and membrane-bound IL-21; one intravenous infusion on day 0.",
                        "armGroupLabels": [arm],
                        "otherNames": ["Expanded NK cells"],
                    },
                ],
            },
            "outcomesModule": {
                "primaryOutcomes": [
                    {
                        "measure": "Incidence of treatment-related adverse events",
                        "description": "Adverse events graded by NCI CTCAE v5.0 after NK cell infusion.",
                        "timeFrame": "30 days after NK cell infusion",
                    }
                ],
                "secondaryOutcomes": [
                    {
                        "measure": "Response of leukemia",
                        "description": "Bone marrow blast count and minimal residual disease after infusion.",
                        "timeFrame": "30 days after NK cell infusion",
                    }
                ],
            },
            "eligibilityModule": {
                "eligibilityCriteria": eligibility_text(text),
                "healthyVolunteers": False,
                "sex": "ALL",
                "minimumAge": "1 Year",
                "maximumAge": "30 Years",
                "stdAges": ["CHILD", "ADULT"],
            },
            "contactsLocationsModule": {
                "locations": [
                    {
                        "facility": sponsor,
                        "city": "Minsk",
                        "zip": "223053",
                        "country": "Belarus",
                        "geoPoint": {"lat": 53.9, "lon": 27.56667},
                    }
                ]
            },
        },
        "derivedSection": {
            "miscInfoModule": {"versionHolder": ""},
            "conditionBrowseModule": {
                "meshes": [
                    {"id": "D000007938", "term": "Leukemia"},
                    {"id": "D000054198", "term": "Precursor Cell Lymphoblastic Leukemia-Lymphoma"},
                    {"id": "D000015470", "term": "Leukemia, Myeloid, Acute"},
                ],
                "ancestors": [{"id": "D000009370", "term": "Neoplasms by Histologic Type"}],
            },
            "interventionBrowseModule": {"meshes": [{"id": "D000007376", "term": "Interleukin-2"}]},
        },
        "hasResults": False,
    }


NCT04327037_VERSIONS = [
    VersionState(
        "2020-03-31",
        "2020-03-25",
        "RECRUITING",
        (24, "ESTIMATED"),
        ("2020-03-02", "ACTUAL"),
        ("2021-12-31", "ESTIMATED"),
        ("2022-12-31", "ESTIMATED"),
        [],
        site_status="RECRUITING",
    ),
    VersionState(
        "2022-01-18",
        "2022-01-14",
        "RECRUITING",
        (24, "ESTIMATED"),
        ("2020-03-02", "ACTUAL"),
        ("2023-12-31", "ESTIMATED"),
        ("2024-12-31", "ESTIMATED"),
        ["Study Status"],
        site_status="RECRUITING",
    ),
    VersionState(
        "2024-11-05",
        "2024-11-01",
        "RECRUITING",
        (24, "ESTIMATED"),
        ("2020-03-02", "ACTUAL"),
        ("2026-12-31", "ESTIMATED"),
        ("2027-06-30", "ESTIMATED"),
        ["Study Status"],
        site_status="RECRUITING",
    ),
    VersionState(
        "2026-10-08",
        "2026-10-06",
        "COMPLETED",
        (10, "ACTUAL"),
        ("2020-03-02", "ACTUAL"),
        ("2026-08-14", "ACTUAL"),
        ("2026-09-25", "ACTUAL"),
        ["Study Status", "Study Design", "Contacts/Locations"],
        site_status="COMPLETED",
    ),
]

SEEDS = {
    "NCT02185781": (nct02185781_base, NCT02185781_VERSIONS),
    "NCT04327037": (nct04327037_base, NCT04327037_VERSIONS),
}


def version_holder(state: VersionState, next_date: str | None) -> str:
    """The data build that first served this version: the first day on or after it, else its own date."""
    for day in DAYS:
        if day["date"] >= state.date and (next_date is None or day["date"] < next_date):
            return day["date"]
    return state.date


def apply_state(base: dict[str, Any], state: VersionState, holder: str) -> dict[str, Any]:
    record = copy.deepcopy(base)
    protocol = record["protocolSection"]
    status = protocol["statusModule"]
    ordered_status = {
        "statusVerifiedDate": state.submitted[:7],
        "overallStatus": state.status,
        "expandedAccessInfo": status["expandedAccessInfo"],
        "startDateStruct": date_struct(state.start),
        "primaryCompletionDateStruct": date_struct(state.primary_completion),
        "completionDateStruct": date_struct(state.completion),
        "studyFirstSubmitDate": status["studyFirstSubmitDate"],
        "studyFirstSubmitQcDate": status["studyFirstSubmitQcDate"],
        "studyFirstPostDateStruct": status["studyFirstPostDateStruct"],
        "lastUpdateSubmitDate": state.submitted,
        "lastUpdatePostDateStruct": {
            "date": state.date,
            "type": "ACTUAL" if state.date >= "2017" else "ESTIMATED",
        },
    }
    protocol["statusModule"] = ordered_status
    design = protocol["designModule"]
    design["enrollmentInfo"] = {"count": state.enrollment[0], "type": state.enrollment[1]}
    locations = protocol["contactsLocationsModule"]["locations"]
    if not state.with_sites:
        del protocol["contactsLocationsModule"]
    elif state.site_status:
        for site in locations:
            site_with_status = {"facility": site.pop("facility"), "status": state.site_status}
            site_with_status.update(site)
            site.clear()
            site.update(site_with_status)
    record["derivedSection"]["miscInfoModule"]["versionHolder"] = holder
    return record


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_seed_studies(outputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every version file of the seed trials (into ``outputs``) and their timeline entries."""
    timeline: dict[str, dict[str, Any]] = {}
    for nct_id, (make_base, states) in SEEDS.items():
        base = make_base()
        versions = []
        for number, state in enumerate(states):
            next_date = states[number + 1].date if number + 1 < len(states) else None
            relative = f"studies/{nct_id}/v{number}.json"
            outputs[relative] = apply_state(base, state, version_holder(state, next_date))
            versions.append(
                {"version": number, "date": state.date, "moduleLabels": state.module_labels, "file": relative}
            )
        timeline[nct_id] = {"source": "rebuilt", "versions": versions}
    return timeline


# ----------------------------------------------------------------------------- real samples


def sample_candidates() -> list[tuple[str, int | None, dict[str, Any]]]:
    """Real single studies, best copy first: study files, then fields-limited gets, then page elements."""
    found: list[tuple[str, int | None, dict[str, Any]]] = []
    for pattern in ("study_*.json", "biomcp_get_*.json"):
        for path in sorted(SAMPLES_DIR.glob(pattern)):
            found.append((f"samples/{path.name}", None, json.loads(path.read_text(encoding="utf-8"))))
    for path in sorted(SAMPLES_DIR.glob("page_*.json")):
        page = json.loads(path.read_text(encoding="utf-8"))
        for index, study in enumerate(page["studies"]):
            found.append((f"samples/{path.name}", index, study))
    return found


def version_date(study: dict[str, Any], file: str) -> str:
    """When the served version was posted: last update, else first post, else the capture date."""
    status = study.get("protocolSection", {}).get("statusModule", {})
    for key in ("lastUpdatePostDateStruct", "studyFirstPostDateStruct"):
        if status.get(key, {}).get("date"):
            return status[key]["date"]
    capture = re.search(r"_(\d{4})(\d{2})(\d{2})\.json$", file)
    if not capture:
        raise ValueError(f"{file}: no posting date in the record and no capture date in the name")
    return "-".join(capture.groups())


def build_sample_studies() -> dict[str, dict[str, Any]]:
    timeline: dict[str, dict[str, Any]] = {}
    for file, element, study in sample_candidates():
        nct_id = study["protocolSection"]["identificationModule"]["nctId"]
        if nct_id in timeline or file == NOISE_PAIR["rebuilt"]:
            continue
        entry: dict[str, Any] = {
            "version": 0,
            "date": version_date(study, file),
            "moduleLabels": [],
            "file": file,
        }
        if element is not None:
            entry["element"] = element
        if file == NOISE_PAIR["first"]:
            entry["rebuilds"] = [{"fromDay": NOISE_PAIR["from_day"], "file": NOISE_PAIR["rebuilt"]}]
        if entry["date"] > DAYS[0]["date"]:
            raise ValueError(f"{file}: version date {entry['date']} is after day 1; it would not be served")
        timeline[nct_id] = {"source": "real", "versions": [entry]}
    return timeline


def build() -> dict[str, Any]:
    """Every generated file, relative path -> JSON data, ready to be written under ``data/``."""
    outputs: dict[str, Any] = {}
    studies = build_sample_studies()
    studies.update(build_seed_studies(outputs))
    outputs["timeline.json"] = {
        "apiVersion": API_VERSION,
        "days": DAYS,
        "studies": dict(sorted(studies.items())),
    }
    return outputs


def main() -> None:
    outputs = build()
    for relative, data in outputs.items():
        write_json(DATA_DIR / relative, data)
    print(f"wrote {len(outputs)} files under {DATA_DIR}")


if __name__ == "__main__":
    main()
