"""The version-pair corpus: real pairs of real records, and pairs rebuilt from real records.

Every pair names where it comes from (``origin``: ``real`` or ``real-derived``), the sample files it
starts from (provenance in ``include/trialwatch/replay/data/samples/SOURCES.md`` and this folder's
SOURCES.md), what a reader of the registry's history would see, and the events a trial office
expects: (category, severity, count) per event, written from the records and docs/change-rules.md.
A count of None leaves the number of members unchecked.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trialwatch import records

from .histories import PAIRS as HISTORY_PAIRS
from .model import Pair, Study, real_captures

SAMPLES = Path(records.__file__).resolve().parent / "replay" / "data" / "samples"


_CACHE: dict[str, Any] = {}


def _file(name: str) -> Any:
    if name not in _CACHE:
        _CACHE[name] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return _CACHE[name]


def study(name: str, nct_id: str | None = None) -> Study:
    """A fresh copy of a sample study (by NCT id inside a page, else the file's only or first study)."""
    data = _file(name)
    studies = data.get("studies", [data])
    for item in studies:
        if nct_id is None or records.nct_id_of(item) == nct_id:
            return copy.deepcopy(item)
    raise LookupError(f"{nct_id} is not in {name}")


def both(name: str) -> tuple[Study, Study]:
    return study(name), study(name)


def ps(record: Study) -> dict[str, Any]:
    return record["protocolSection"]


def status(record: Study) -> dict[str, Any]:
    return ps(record)["statusModule"]


def sites(record: Study) -> list[dict[str, Any]]:
    return ps(record)["contactsLocationsModule"]["locations"]


def outcomes(record: Study, kind: str) -> list[dict[str, Any]]:
    return ps(record)["outcomesModule"][kind]


CLL = "page_NCT05147467_with_token.json"  # RECRUITING, 11 sites in China
GY = "page_NCT06388018_single_no_token.json"  # RECRUITING, 13 primary outcomes, 7.1k criteria
NYR = "study_NCT06171568.json"  # NOT_YET_RECRUITING, one site in Paris
ANR = "study_NCT03934567.json"  # ACTIVE_NOT_RECRUITING, 26 sites in China
DUPI = "study_NCT02210780.json"  # COMPLETED with results, 42 US sites
CZP = "study_NCT02552212__vh2023-12-12.json"  # COMPLETED, 105 sites, 11 primary + 20 secondary
ACTT = "page_NCT04280705_full_results_466KB.json"  # COMPLETED, 60 sites, 4 primary + 39 secondary
PRIDE = "study_NCT03630471.json"  # COMPLETED, one site in India, references
SPAIN = "study_NCT03475563.json"  # UNKNOWN (last known RECRUITING), 3 sites in Spain
CF = "study_NCT00763412.json"  # COMPLETED, repaglinide vs placebo


# --- faults the registry introduces ---------------------------------------------------------------------


def mojibake(text: str, codec: str = "cp1252") -> str:
    """UTF-8 bytes read as ``codec``: "Universitätsklinikum" → "UniversitÃ¤tsklinikum"."""
    return text.encode("utf-8").decode(codec, errors="replace")


def reencode_sites(record: Study, codec: str = "cp1252") -> int:
    """Every non-ASCII facility and city as mojibake; returns how many sites changed."""
    changed = 0
    for site in sites(record):
        touched = False
        for key in ("facility", "city"):
            value = site.get(key)
            if isinstance(value, str) and not value.isascii():
                site[key] = mojibake(value, codec)
                touched = True
        changed += touched
    return changed


def site_named(record: Study, fragment: str) -> dict[str, Any]:
    return next(site for site in sites(record) if fragment in (site.get("facility") or ""))


# --- real pairs -------------------------------------------------------------------------------------------


def real_nct02552212() -> tuple[Study, Study]:
    return study(CZP), study("study_NCT02552212__vh2024-01-03.json")


def real_single_vs_page(nct_id: str, single: str) -> Callable[[], tuple[Study, Study]]:
    def build() -> tuple[Study, Study]:
        return study(single), study("page_NCT00184067_NCT03934567_with_token.json", nct_id)

    return build


def real_two_pages(nct_id: str) -> Callable[[], tuple[Study, Study]]:
    def build() -> tuple[Study, Study]:
        return (
            study("biomcp_search_phelan_limit5_20260811.json", nct_id),
            study("biomcp_search_phelan_limit50_20260811.json", nct_id),
        )

    return build


# --- noise-only pairs rebuilt from real records ---------------------------------------------------------------


def sites_mojibake() -> tuple[Study, Study]:
    old, new = both(ACTT)
    assert reencode_sites(new) >= 3
    return old, new


def apostrophe_lost_and_case() -> tuple[Study, Study]:
    old, new = both(ACTT)
    thomas = site_named(new, "Saint Thomas'")
    thomas["facility"] = thomas["facility"].replace("'", "?")
    james = site_named(new, "St. James's")
    james["facility"] = james["facility"].replace("'", "?").upper()
    frankfurt = site_named(new, "Frankfurt")
    frankfurt["facility"] = frankfurt["facility"].title()
    return old, new


def apostrophe_restored() -> tuple[Study, Study]:
    old, new = apostrophe_lost_and_case()
    return new, old


def lossy_cp1250() -> tuple[Study, Study]:
    """è read as Windows-1250 ("Ă¨"), the way the registry garbles French names, then re-cased."""
    old, new = both(NYR)
    site = sites(new)[0]
    site["facility"] = mojibake(site["facility"], "cp1250").replace("hospital", "Hospital")
    return old, new


def lossy_flip() -> tuple[Study, Study]:
    """The next day the same name comes back with a question mark for the lost letter."""
    _, garbled = lossy_cp1250()
    later = copy.deepcopy(garbled)
    sites(later)[0]["facility"] = "Neurosurgery - Lariboisi?re hospital"
    return garbled, later


def expanded_access_dropped() -> tuple[Study, Study]:
    old, new = both(ANR)
    del status(new)["expandedAccessInfo"]
    return old, new


def empty_structures() -> tuple[Study, Study]:
    old, new = both(PRIDE)
    empties = (
        (ps(new)["oversightModule"], "isUnapprovedDevice", None),
        (ps(new)["referencesModule"], "seeAlsoLinks", []),
        (ps(new)["referencesModule"], "availIpds", []),
        (ps(new)["contactsLocationsModule"], "centralContacts", []),
        (status(new), "whyStopped", None),
        (ps(new)["designModule"], "bioSpec", {}),
    )
    for module, key, empty in empties:
        assert key not in module, key  # only what the record lacks appears, empty
        module[key] = empty
    return old, new


def decomposed_accents() -> tuple[Study, Study]:
    old, new = both(SPAIN)
    for site in sites(new):
        for key in ("facility", "city"):
            site[key] = unicodedata.normalize("NFD", site[key])
    return old, new


def bookkeeping_bundle() -> tuple[Study, Study]:
    old, new = both(CLL)
    new["derivedSection"]["miscInfoModule"]["versionHolder"] = "2025-07-01"
    status(new)["statusVerifiedDate"] = "2025-06"
    status(new)["lastUpdatePostDateStruct"] = {"date": "2025-06-30", "type": "ACTUAL"}
    del status(new)["expandedAccessInfo"]
    for site in sites(new):
        site["geoPoint"] = {"lat": round(site["geoPoint"]["lat"] + 0.01, 5), "lon": site["geoPoint"]["lon"]}
    return old, new


def reordered_and_reencoded() -> tuple[Study, Study]:
    old, new = both(SPAIN)
    sites(new).reverse()
    hebron = site_named(new, "Hebron")
    hebron["facility"] = hebron["facility"].replace("'", "?")
    hebron["city"] = hebron["city"].upper()
    return old, new


# --- material changes rebuilt from real records --------------------------------------------------------------


def reopen_221_sites() -> tuple[Study, Study]:
    """A closed trial re-opens: 221 sites (from four real records) get RECRUITING, 209 a contact."""
    pool = []
    for name in (CZP, ACTT, DUPI, ANR):
        pool += sites(study(name))
    pool = pool[:221]
    for site in pool:
        site.pop("status", None)
        site.pop("contacts", None)
    old = study(CZP)
    status(old)["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    sites(old)[:] = copy.deepcopy(pool)
    new = copy.deepcopy(old)
    status(new)["overallStatus"] = "RECRUITING"
    for index, site in enumerate(sites(new)):
        site["status"] = "RECRUITING"
        if index < 209:
            site["contacts"] = [
                {"name": f"Study Coordinator {index}", "role": "CONTACT", "phone": "+1 555 0100"}
            ]
    return old, new


def time_frames_59_to_58() -> tuple[Study, Study]:
    """25 outcome time frames (4 primary, 21 secondary) restated from 59 to 58 months."""
    old, new = both(ACTT)
    for record, months in ((old, 59), (new, 58)):
        chosen = outcomes(record, "primaryOutcomes") + outcomes(record, "secondaryOutcomes")[:21]
        for outcome in chosen:
            outcome["timeFrame"] = f"Day 1 through {months} months"
    return old, new


def completion_slip(months: int, name: str = CLL) -> Callable[[], tuple[Study, Study]]:
    def build() -> tuple[Study, Study]:
        old, new = both(name)
        year, month = (int(part) for part in status(old)["completionDateStruct"]["date"].split("-")[:2])
        total = year * 12 + month - 1 + months
        status(new)["completionDateStruct"]["date"] = f"{total // 12}-{total % 12 + 1:02d}"
        return old, new

    return build


def primary_completion_13_months() -> tuple[Study, Study]:
    old, new = both(GY)
    status(new)["primaryCompletionDateStruct"]["date"] = "2028-02-16"
    return old, new


def primary_completion_10_days_earlier() -> tuple[Study, Study]:
    old, new = both(GY)
    status(new)["primaryCompletionDateStruct"]["date"] = "2027-01-06"
    return old, new


def primary_outcome_replaced(name: str) -> Callable[[], tuple[Study, Study]]:
    def build() -> tuple[Study, Study]:
        old, new = both(name)
        outcomes(new, "primaryOutcomes")[0] = {
            "measure": "Number of participants with treatment-emergent adverse events",
            "timeFrame": "Up to 30 days after the last dose",
        }
        return old, new

    return build


def secondary_removed(name: str, index: int) -> Callable[[], tuple[Study, Study]]:
    def build() -> tuple[Study, Study]:
        old, new = both(name)
        del outcomes(new, "secondaryOutcomes")[index]
        return old, new

    return build


def drug_added_while_recruiting() -> tuple[Study, Study]:
    old, new = both(CLL)
    arms = ps(new)["armsInterventionsModule"]
    label = arms["armGroups"][0]["label"]
    arms["armGroups"][0]["interventionNames"].append("Drug: Rituximab")
    arms["interventions"].append({"type": "DRUG", "name": "Rituximab", "armGroupLabels": [label]})
    return old, new


def arm_added_before_recruiting() -> tuple[Study, Study]:
    old, new = both(NYR)
    ps(new)["armsInterventionsModule"]["armGroups"] = [
        {"label": "Brain-injured adults", "interventionNames": ["Other: Tests and questionnaires"]}
    ]
    return old, new


def arm_removed_after_completion() -> tuple[Study, Study]:
    old, new = both(DUPI)
    arms = ps(new)["armsInterventionsModule"]
    arms["armGroups"] = [arm for arm in arms["armGroups"] if arm["label"] != "Dupilumab 300 mg qw"]
    dupilumab = next(item for item in arms["interventions"] if item["name"] == "Dupilumab")
    dupilumab["armGroupLabels"] = []
    return old, new


def arm_label_edited() -> tuple[Study, Study]:
    old, new = both(ANR)
    arms = ps(new)["armsInterventionsModule"]
    arms["armGroups"][0]["label"] = "Abexinostat 80 mg twice daily (BID)"
    arms["interventions"][0]["armGroupLabels"] = ["Abexinostat 80 mg twice daily (BID)"]
    return old, new


def intervention_renamed() -> tuple[Study, Study]:
    old, new = both(CF)
    arms = ps(new)["armsInterventionsModule"]
    drug = next(item for item in arms["interventions"] if item["name"] == "repaglinide")
    drug["name"] = "Repaglinide (Prandin)"
    arm = next(arm for arm in arms["armGroups"] if arm["label"] == "2. repaglinide")
    arm["interventionNames"] = ["Drug: Repaglinide (Prandin)"]
    return old, new


def citation_edited_same_pmid() -> tuple[Study, Study]:
    old, new = both(PRIDE)
    reference = ps(new)["referencesModule"]["references"][0]
    reference["citation"] = reference["citation"].replace("2000 Dec;177:534-9.", "2000 Dec;177(6):534-539.")
    return old, new


def citation_edited_same_doi() -> tuple[Study, Study]:
    """A reference without a PMID, matched by the DOI in its citation."""
    old, new = both(CZP)
    for record in (old, new):
        ps(record)["referencesModule"]["references"][0].pop("pmid")
    reference = ps(new)["referencesModule"]["references"][0]
    reference["citation"] = reference["citation"].replace("2022 Mar;8(1)", "2022;8(1)")
    return old, new


def reference_added() -> tuple[Study, Study]:
    old, new = both("study_NCT02299791.json")
    ps(new)["referencesModule"]["references"].append(
        {"pmid": "31000000", "type": "RESULT", "citation": "Gold R, et al. Results of the trial. 2019."}
    )
    return old, new


def eligibility_grown() -> tuple[Study, Study]:
    """The criteria text more than doubled: two other real trials' criteria appended (6.1k → 12.9k)."""
    old, new = both(CZP)
    texts = [ps(study(name))["eligibilityModule"]["eligibilityCriteria"] for name in (CZP, DUPI, ACTT)]
    ps(new)["eligibilityModule"]["eligibilityCriteria"] = "\n".join(texts)
    return old, new


def criterion_reworded() -> tuple[Study, Study]:
    old, new = both(CLL)
    eligibility = ps(new)["eligibilityModule"]
    eligibility["eligibilityCriteria"] = eligibility["eligibilityCriteria"].replace(
        "Expected survival is at least 12 weeks.", "Expected survival is at least 24 weeks."
    )
    assert eligibility != ps(old)["eligibilityModule"]
    return old, new


def exclusion_added() -> tuple[Study, Study]:
    old, new = both(DUPI)
    eligibility = ps(new)["eligibilityModule"]
    eligibility["eligibilityCriteria"] += "\n* Known hypersensitivity to tetanus toxoid"
    return old, new


def overall_status(name: str, to: str, **fields: Any) -> Callable[[], tuple[Study, Study]]:
    def build() -> tuple[Study, Study]:
        old, new = both(name)
        status(new)["overallStatus"] = to
        status(new).update(fields)
        return old, new

    return build


def recruiting_to_active_with_sites() -> tuple[Study, Study]:
    old, new = both(CLL)
    status(new)["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    for site in sites(new):
        site["status"] = "ACTIVE_NOT_RECRUITING"
    return old, new


def active_to_completed() -> tuple[Study, Study]:
    old, new = both(ANR)
    status(new)["overallStatus"] = "COMPLETED"
    status(new)["completionDateStruct"] = {"date": "2025-09-30", "type": "ACTUAL"}
    return old, new


def withdrawn() -> tuple[Study, Study]:
    old, new = both(NYR)
    status(new)["overallStatus"] = "WITHDRAWN"
    status(new)["whyStopped"] = "Funding not obtained"
    ps(new)["designModule"]["enrollmentInfo"] = {"count": 0, "type": "ACTUAL"}
    return old, new


def unknown_status() -> tuple[Study, Study]:
    old, new = both(CLL)
    status(new)["overallStatus"] = "UNKNOWN"
    status(new)["lastKnownStatus"] = "RECRUITING"
    return old, new


def enrollment(name: str, count: int) -> Callable[[], tuple[Study, Study]]:
    def build() -> tuple[Study, Study]:
        old, new = both(name)
        ps(new)["designModule"]["enrollmentInfo"]["count"] = count
        return old, new

    return build


def site_in_new_country() -> tuple[Study, Study]:
    old, new = both(CLL)
    sites(new).append(
        {
            "facility": "National University Hospital",
            "status": "NOT_YET_RECRUITING",
            "city": "Singapore",
            "zip": "119074",
            "country": "Singapore",
        }
    )
    return old, new


def twelve_us_sites_removed() -> tuple[Study, Study]:
    old, new = both(ACTT)
    us = [site for site in sites(new) if site["country"] == "United States"][:12]
    sites(new)[:] = [site for site in sites(new) if all(site is not gone for gone in us)]
    return old, new


def site_contact_changed() -> tuple[Study, Study]:
    old, new = both(CLL)
    sites(new)[0]["contacts"][0]["phone"] = "+86 20 8734 3333"
    return old, new


def facility_renamed() -> tuple[Study, Study]:
    old, new = both(NYR)
    sites(new)[0]["facility"] = "Neurosurgery - Lariboisière hospital, AP-HP"
    return old, new


def phase_changed() -> tuple[Study, Study]:
    old, new = both(GY)
    ps(new)["designModule"]["phases"] = ["PHASE2", "PHASE3"]
    return old, new


def title_edited() -> tuple[Study, Study]:
    old, new = both("study_NCT03418623.json")
    ident = ps(new)["identificationModule"]
    ident["briefTitle"] = ident["briefTitle"] + " (Pilot)"
    return old, new


def central_contact_changed() -> tuple[Study, Study]:
    old, new = both(CLL)
    ps(new)["contactsLocationsModule"]["centralContacts"][0]["email"] = "clinical.trials@ascentage.com"
    return old, new


def minimum_age_lowered() -> tuple[Study, Study]:
    old, new = both(PRIDE)
    ps(new)["eligibilityModule"]["minimumAge"] = "12 Years"
    return old, new


def collaborator_added() -> tuple[Study, Study]:
    old, new = both(PRIDE)
    ps(new)["sponsorCollaboratorsModule"]["collaborators"].append(
        {"name": "Wellcome Trust", "class": "OTHER"}
    )
    return old, new


def start_moved_two_months() -> tuple[Study, Study]:
    old, new = both(NYR)
    status(new)["startDateStruct"]["date"] = "2024-04-01"
    return old, new


def amendment_bundle() -> tuple[Study, Study]:
    """One protocol amendment: enrollment +20 %, a site, an exclusion criterion, primary completion +6 months."""
    old, new = both(CLL)
    ps(new)["designModule"]["enrollmentInfo"]["count"] = 90
    sites(new).append(
        {
            "facility": "Peking University Third Hospital",
            "status": "NOT_YET_RECRUITING",
            "city": "Beijing",
            "country": "China",
        }
    )
    ps(new)["eligibilityModule"]["eligibilityCriteria"] += "\n* Prior treatment with venetoclax"
    status(new)["primaryCompletionDateStruct"]["date"] = "2025-03"
    return old, new


def reencoded_plus_site_removed() -> tuple[Study, Study]:
    old, new = sites_mojibake()
    us = next(site for site in sites(new) if site["country"] == "United States")
    sites(new).remove(us)
    return old, new


def primary_measure_case() -> tuple[Study, Study]:
    old, new = both(CLL)
    outcomes(new, "primaryOutcomes")[0]["measure"] = "Objective response rate (ORR)"
    return old, new


def primary_measure_reworded() -> tuple[Study, Study]:
    old, new = both(CLL)
    outcomes(new, "primaryOutcomes")[0]["measure"] = "Objective Response Rate (ORR) per iwCLL 2018"
    return old, new


def one_primary_time_frame() -> tuple[Study, Study]:
    old, new = both(GY)
    first = outcomes(new, "primaryOutcomes")[0]
    first["timeFrame"] = first["timeFrame"] + " (extended follow-up)"
    return old, new


def postal_codes_added() -> tuple[Study, Study]:
    """The registry states postal codes for the 14 Polish sites that had none."""
    old, new = both(CZP)
    polish = [site for site in sites(new) if site["country"] == "Poland"]
    assert len(polish) == 14 and not any(site.get("zip") for site in polish)
    for number, site in enumerate(polish):
        site["zip"] = f"{60 + number:02d}-{100 + number:03d}"
    return old, new


def site_swapped_in_one_city() -> tuple[Study, Study]:
    """Site 401 in Kraków closes and site 415 opens there: two sites, not a rename."""
    old, new = both(CZP)
    site = next(site for site in sites(new) if site["facility"] == "As0006 401")
    site["facility"] = "As0006 415"
    return old, new


def secondary_outcomes_dropped_after_completion() -> tuple[Study, Study]:
    old, new = both(ACTT)
    del outcomes(new, "secondaryOutcomes")[:15]
    return old, new


def outcome_descriptions_edited() -> tuple[Study, Study]:
    """Five secondary outcome descriptions each gain their analysis population."""
    old, new = both(CZP)
    for outcome in outcomes(new, "secondaryOutcomes")[:5]:
        outcome["description"] = f"{outcome.get('description', '')} Analysed in the Randomized Set."
    return old, new


# --- the corpus -----------------------------------------------------------------------------------------------

R, D = "real", "real-derived"
STATUS_MAJOR, STATUS_MINOR = ("status", "major", 1), ("status", "minor", 1)

CORPUS_PAIRS: tuple[Pair, ...] = (
    # real pairs: two real fetches of one record
    Pair(
        "nct02552212-vh2023-12-12-to-2024-01-03",
        R,
        (CZP, "study_NCT02552212__vh2024-01-03.json"),
        "successive registry versions; only derivedSection differs",
        real_nct02552212,
        (),
    ),
    Pair(
        "nct00184067-single-vs-page",
        R,
        ("study_NCT00184067.json", "page_NCT00184067_NCT03934567_with_token.json"),
        "same day, /studies/{id} and /studies page",
        real_single_vs_page("NCT00184067", "study_NCT00184067.json"),
        (),
    ),
    Pair(
        "nct03934567-single-vs-page",
        R,
        (ANR, "page_NCT00184067_NCT03934567_with_token.json"),
        "same day, /studies/{id} and /studies page",
        real_single_vs_page("NCT03934567", ANR),
        (),
    ),
    Pair(
        "nct02710084-two-pages",
        R,
        ("biomcp_search_phelan_limit5_20260811.json", "biomcp_search_phelan_limit50_20260811.json"),
        "one query fetched with two page sizes",
        real_two_pages("NCT02710084"),
        (),
    ),
    Pair(
        "nct05105685-two-pages",
        R,
        ("biomcp_search_phelan_limit5_20260811.json", "biomcp_search_phelan_limit50_20260811.json"),
        "one query fetched with two page sizes",
        real_two_pages("NCT05105685"),
        (),
    ),
    Pair(
        "nct01525901-two-pages",
        R,
        ("biomcp_search_phelan_limit5_20260811.json", "biomcp_search_phelan_limit50_20260811.json"),
        "one query fetched with two page sizes",
        real_two_pages("NCT01525901"),
        (),
    ),
    # real pairs: classic XML downloaded by the registry on two dates (tests/corpus/real)
    Pair(
        "nct00513591-xml-2017-10-to-2018-05",
        R,
        ("NCT00513591__2017-10-20.xml", "NCT00513591__2018-05-11.xml"),
        "same version (last update 2017-06-16); the registry dropped phase N/A and old date names",
        real_captures("NCT00513591__2017-10-20.xml", "NCT00513591__2018-05-11.xml"),
        (),
    ),
    Pair(
        "nct02903849-xml-2017-10-to-2018-05",
        R,
        ("NCT02903849__2017-10-20.xml", "NCT02903849__2018-05-11.xml"),
        "same version (last update 2017-05-09); quotes escaped as &quot;, old date names dropped",
        real_captures("NCT02903849__2017-10-20.xml", "NCT02903849__2018-05-11.xml"),
        (),
    ),
    Pair(
        "nct02591810-xml-withdrawn",
        R,
        ("NCT02591810__2017-01-30.xml", "NCT02591810__2018-05-11.xml"),
        "not yet recruiting → withdrawn; actual dates (start 1 month, primary completion 10, completion 13"
        " months earlier), enrollment 100 estimated → 0 actual, both central contacts gone; texts rewrapped,"
        " masking in the 2017 vocabulary",
        real_captures("NCT02591810__2017-01-30.xml", "NCT02591810__2018-05-11.xml"),
        (
            ("status", "critical", 1),
            ("dates", "minor", 1),
            ("dates", "major", 1),
            ("dates", "major", 1),
            ("enrollment", "major", 1),
            ("contacts", "minor", 2),
        ),
    ),
    # noise only, rebuilt
    Pair(
        "sites-mojibake",
        D,
        (ACTT,),
        "non-ASCII site names and cities read as Windows-1252",
        sites_mojibake,
        (),
    ),
    Pair(
        "apostrophe-lost-and-case",
        D,
        (ACTT,),
        "apostrophes turned to '?', names re-cased",
        apostrophe_lost_and_case,
        (),
    ),
    Pair("apostrophe-restored", D, (ACTT,), "the previous pair flipped back", apostrophe_restored, ()),
    Pair("lossy-cp1250", D, (NYR,), "'Lariboisière' garbled as Windows-1250 and re-cased", lossy_cp1250, ()),
    Pair("lossy-flip", D, (NYR,), "the garbled name comes back with '?' for the lost letter", lossy_flip, ()),
    Pair(
        "expanded-access-dropped",
        D,
        (ANR,),
        "expandedAccessInfo {hasExpandedAccess: false} dropped",
        expanded_access_dropped,
        (),
    ),
    Pair("empty-structures", D, (PRIDE,), "empty lists and nulls appear", empty_structures, ()),
    Pair(
        "decomposed-accents",
        D,
        (SPAIN,),
        "site names and cities in decomposed Unicode (NFD)",
        decomposed_accents,
        (),
    ),
    Pair(
        "bookkeeping-bundle",
        D,
        (CLL,),
        "versionHolder, verified and posted dates, geocodes, expandedAccessInfo",
        bookkeeping_bundle,
        (),
    ),
    Pair(
        "reordered-and-reencoded",
        D,
        (SPAIN,),
        "sites reordered, an apostrophe lost, a city upper-cased",
        reordered_and_reencoded,
        (),
    ),
    # material changes, rebuilt
    Pair(
        "reopen-221-sites",
        D,
        (CZP, ACTT, DUPI, ANR),
        "re-opened: 221 sites to RECRUITING, 209 with a new contact",
        reopen_221_sites,
        (("status", "major", 1), ("sites", "minor", 221)),
    ),
    Pair(
        "time-frames-59-to-58",
        D,
        (ACTT,),
        "25 outcome time frames 59 → 58 months (4 primary)",
        time_frames_59_to_58,
        (("outcomes", "major", 4), ("outcomes", "minor", 21)),
    ),
    Pair(
        "completion-slip-24-months",
        D,
        (CLL,),
        "completion date 24 months later while recruiting",
        completion_slip(24),
        (("dates", "major", 1),),
    ),
    Pair(
        "completion-slip-6-months",
        D,
        (CLL,),
        "completion date 6 months later",
        completion_slip(6),
        (("dates", "minor", 1),),
    ),
    Pair(
        "primary-completion-13-months",
        D,
        (GY,),
        "primary completion 13 months later",
        primary_completion_13_months,
        (("dates", "major", 1),),
    ),
    Pair(
        "primary-completion-10-days-earlier",
        D,
        (GY,),
        "primary completion 10 days earlier",
        primary_completion_10_days_earlier,
        (("dates", "minor", 1),),
    ),
    Pair(
        "primary-outcome-replaced-after-completion",
        D,
        (DUPI,),
        "the primary outcome replaced after completion",
        primary_outcome_replaced(DUPI),
        (("outcomes", "critical", 1), ("outcomes", "critical", 1)),
    ),
    Pair(
        "primary-outcome-replaced-while-recruiting",
        D,
        (CLL,),
        "the primary outcome replaced while recruiting",
        primary_outcome_replaced(CLL),
        (("outcomes", "critical", 1), ("outcomes", "critical", 1)),
    ),
    Pair(
        "primary-outcome-replaced-before-recruiting",
        D,
        (NYR,),
        "the primary outcome replaced before recruiting",
        primary_outcome_replaced(NYR),
        (("outcomes", "major", 1), ("outcomes", "major", 1)),
    ),
    Pair(
        "secondary-removed-after-recruitment",
        D,
        (ANR,),
        "a secondary outcome removed, recruitment over",
        secondary_removed(ANR, 1),
        (("outcomes", "major", 1),),
    ),
    Pair(
        "secondary-removed-while-recruiting",
        D,
        (CLL,),
        "a secondary outcome removed while recruiting",
        secondary_removed(CLL, 2),
        (("outcomes", "minor", 1),),
    ),
    Pair(
        "drug-added-while-recruiting",
        D,
        (CLL,),
        "rituximab added to the only arm while recruiting",
        drug_added_while_recruiting,
        (("arms", "major", 1), ("arms", "minor", 1)),
    ),
    Pair(
        "arm-added-before-recruiting",
        D,
        (NYR,),
        "a cohort described before recruiting",
        arm_added_before_recruiting,
        (("arms", "minor", 1),),
    ),
    Pair(
        "arm-removed-after-completion",
        D,
        (DUPI,),
        "the dupilumab arm removed after completion",
        arm_removed_after_completion,
        (("arms", "major", 1), ("arms", "minor", 1)),
    ),
    Pair(
        "arm-label-edited",
        D,
        (ANR,),
        "'bis in die' spelled out as 'twice daily' in the arm label",
        arm_label_edited,
        (("arms", "info", 1),),
    ),
    Pair(
        "intervention-renamed",
        D,
        (CF,),
        "repaglinide renamed 'Repaglinide (Prandin)' in arm and intervention",
        intervention_renamed,
        (("arms", "info", 1),),
    ),
    Pair(
        "citation-edited-same-pmid",
        D,
        (PRIDE,),
        "citation pages reformatted, PMID unchanged",
        citation_edited_same_pmid,
        (("references", "info", 1),),
    ),
    Pair(
        "citation-edited-same-doi",
        D,
        (CZP,),
        "citation without PMID edited, DOI unchanged",
        citation_edited_same_doi,
        (("references", "info", 1),),
    ),
    Pair(
        "reference-added",
        D,
        ("study_NCT02299791.json",),
        "a results publication added",
        reference_added,
        (("references", "minor", 1),),
    ),
    Pair(
        "eligibility-grown",
        D,
        (CZP, DUPI, ACTT),
        "criteria grown from 1.7k to 5.7k characters",
        eligibility_grown,
        (("eligibility", "major", None),),
    ),
    Pair(
        "criterion-reworded",
        D,
        (CLL,),
        "expected survival 12 → 24 weeks",
        criterion_reworded,
        (("eligibility", "minor", 1),),
    ),
    Pair(
        "exclusion-added",
        D,
        (DUPI,),
        "one exclusion criterion added",
        exclusion_added,
        (("eligibility", "minor", 1),),
    ),
    Pair(
        "not-yet-recruiting-to-recruiting",
        D,
        (NYR,),
        "recruitment opens",
        overall_status(NYR, "RECRUITING"),
        (STATUS_MINOR,),
    ),
    Pair(
        "recruiting-to-active-with-sites",
        D,
        (CLL,),
        "recruitment closes at the trial and its 11 sites",
        recruiting_to_active_with_sites,
        (STATUS_MINOR, ("sites", "minor", 10), ("sites", "minor", 1)),
    ),
    Pair(
        "active-to-completed",
        D,
        (ANR,),
        "completed a month early",
        active_to_completed,
        (STATUS_MINOR, ("dates", "minor", 1)),
    ),
    Pair(
        "active-reopened",
        D,
        (ANR,),
        "recruitment re-opens",
        overall_status(ANR, "RECRUITING"),
        (STATUS_MAJOR,),
    ),
    Pair(
        "recruiting-to-suspended",
        D,
        (GY,),
        "suspended for a safety review",
        overall_status(GY, "SUSPENDED", whyStopped="Safety review"),
        (("status", "critical", 1),),
    ),
    Pair(
        "active-to-terminated",
        D,
        (ANR,),
        "terminated by the sponsor",
        overall_status(ANR, "TERMINATED", whyStopped="Sponsor decision"),
        (("status", "critical", 1),),
    ),
    Pair(
        "withdrawn",
        D,
        (NYR,),
        "withdrawn before enrolling",
        withdrawn,
        (("status", "critical", 1), ("enrollment", "major", 1)),
    ),
    Pair(
        "recruiting-to-unknown",
        D,
        (CLL,),
        "status not verified in time: UNKNOWN",
        unknown_status,
        (STATUS_MAJOR, ("status", "minor", 1)),
    ),
    Pair(
        "enrollment-minus-5-percent",
        D,
        (NYR,),
        "target 400 → 380",
        enrollment(NYR, 380),
        (("enrollment", "minor", 1),),
    ),
    Pair(
        "enrollment-plus-20-percent",
        D,
        (CLL,),
        "target 75 → 90",
        enrollment(CLL, 90),
        (("enrollment", "major", 1),),
    ),
    Pair(
        "site-in-new-country",
        D,
        (CLL,),
        "first site in Singapore",
        site_in_new_country,
        (("sites", "minor", 1), ("sites", "minor", 1)),
    ),
    Pair(
        "twelve-us-sites-removed",
        D,
        (ACTT,),
        "12 US sites removed",
        twelve_us_sites_removed,
        (("sites", "minor", 12),),
    ),
    Pair(
        "site-contact-changed",
        D,
        (CLL,),
        "a site contact's phone added",
        site_contact_changed,
        (("sites", "minor", 1),),
    ),
    Pair(
        "facility-renamed",
        D,
        (NYR,),
        "the site's name gains ', AP-HP'",
        facility_renamed,
        (("sites", "info", 1),),
    ),
    Pair("phase-changed", D, (GY,), "phase 2 → phase 2/3", phase_changed, (("design", "major", 1),)),
    Pair(
        "title-edited",
        D,
        ("study_NCT03418623.json",),
        "brief title gains '(Pilot)'",
        title_edited,
        (("identity", "minor", 1),),
    ),
    Pair(
        "central-contact-changed",
        D,
        (CLL,),
        "a central contact's email",
        central_contact_changed,
        (("contacts", "minor", 1),),
    ),
    Pair(
        "minimum-age-lowered",
        D,
        (PRIDE,),
        "minimum age 13 → 12 years",
        minimum_age_lowered,
        (("eligibility", "minor", 1),),
    ),
    Pair("collaborator-added", D, (PRIDE,), "a funder added", collaborator_added, (("sponsor", "minor", 1),)),
    Pair(
        "start-moved-two-months",
        D,
        (NYR,),
        "planned start two months later",
        start_moved_two_months,
        (("dates", "minor", 1),),
    ),
    Pair(
        "amendment-bundle",
        D,
        (CLL,),
        "enrollment +20 %, a site, an exclusion, primary completion +6 months",
        amendment_bundle,
        (
            ("enrollment", "major", 1),
            ("dates", "major", 1),
            ("sites", "minor", 1),
            ("eligibility", "minor", 1),
        ),
    ),
    Pair(
        "reencoded-plus-site-removed",
        D,
        (ACTT,),
        "names re-encoded and one US site removed",
        reencoded_plus_site_removed,
        (("sites", "minor", 1),),
    ),
    Pair(
        "postal-codes-added",
        D,
        (CZP,),
        "postal codes stated for 14 Polish sites",
        postal_codes_added,
        (("sites", "info", 14),),
    ),
    Pair(
        "site-swapped-in-one-city",
        D,
        (CZP,),
        "site 401 in Kraków replaced by site 415",
        site_swapped_in_one_city,
        (("sites", "minor", 1), ("sites", "minor", 1)),
    ),
    Pair(
        "secondary-outcomes-dropped-after-completion",
        D,
        (ACTT,),
        "15 secondary outcomes removed after completion",
        secondary_outcomes_dropped_after_completion,
        (("outcomes", "major", 15),),
    ),
    Pair(
        "outcome-descriptions-edited",
        D,
        (CZP,),
        "5 secondary outcome descriptions extended",
        outcome_descriptions_edited,
        (("outcomes", "minor", 5),),
    ),
    Pair(
        "primary-measure-case",
        D,
        (CLL,),
        "primary outcome measure re-cased",
        primary_measure_case,
        (("outcomes", "info", 1),),
    ),
    Pair(
        "primary-measure-reworded",
        D,
        (CLL,),
        "primary outcome measure gains 'per iwCLL 2018'",
        primary_measure_reworded,
        (("outcomes", "major", 1),),
    ),
    Pair(
        "one-primary-time-frame",
        D,
        (GY,),
        "one of 13 primary time frames extended",
        one_primary_time_frame,
        (("outcomes", "major", 1),),
    ),
)

# real pairs from successive captures of one record (histories/)
PAIRS: tuple[Pair, ...] = CORPUS_PAIRS + HISTORY_PAIRS
