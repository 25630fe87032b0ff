"""The classic-XML converter: the registry's two vocabularies and layouts give one API v2 shape."""

from __future__ import annotations

from trialwatch.diff import diff_studies

from .histories import CAPTURES
from .legacy_xml import date, masking, to_api_v2
from .model import REAL, capture_study

# characters of each capture as the source index reports them (CRLF counted), so the kept files are
# the registry's text unchanged
CAPTURE_CHARS = {
    "NCT00513591__2017-10-20.xml": 8386,
    "NCT00513591__2018-05-11.xml": 8964,
    "NCT02591810__2017-01-30.xml": 9277,
    "NCT02591810__2018-05-11.xml": 10036,
    "NCT02903849__2017-10-20.xml": 9993,
    "NCT02903849__2018-05-11.xml": 10591,
} | {capture.file: capture.chars for capture in CAPTURES}


def load(name: str) -> dict:
    return to_api_v2((REAL / name).read_text(encoding="utf-8"))


def test_every_capture_is_kept_whole() -> None:
    assert {p.name for p in REAL.glob("*.xml")} == set(CAPTURE_CHARS)
    for name, chars in CAPTURE_CHARS.items():
        assert len((REAL / name).read_bytes().decode("utf-8")) == chars, name


def test_dates_and_masking_vocabularies() -> None:
    assert date("December 2015") == "2015-12"
    assert date("November 5, 2015") == "2015-11-05"
    assert masking("Single Blind (Subject)") == masking("Single (Participant)")
    assert masking("Single (Participant)") == {"masking": "SINGLE", "whoMasked": ["PARTICIPANT"]}
    assert masking("None (Open Label)") == {"masking": "NONE"}
    # three spellings of an unmasked design: NCT01339988 and NCT01341288 in August 2017, then October 2017
    assert masking("Open Label") == masking("No masking") == masking("None (Open Label)")


def test_a_withdrawn_record_reads_as_the_xml_says() -> None:
    old, new = load("NCT02591810__2017-01-30.xml"), load("NCT02591810__2018-05-11.xml")
    status = new["protocolSection"]["statusModule"]
    assert status["overallStatus"] == "WITHDRAWN"
    assert status["completionDateStruct"] == {"date": "2016-11-09", "type": "ACTUAL"}
    assert old["protocolSection"]["designModule"]["enrollmentInfo"] == {"count": 100, "type": "ESTIMATED"}
    arms = old["protocolSection"]["armsInterventionsModule"]["armGroups"]
    assert arms[2]["interventionNames"] == ["Procedure: Foveal repair"]
    completion = next(e for e in diff_studies(old, new) if e.field == "Completion date")
    assert (completion.old, completion.new) == ("2017-12", "2016-11-09")
    contacts = next(e for e in diff_studies(old, new) if e.category == "contacts")
    assert sorted(contacts.members) == sorted(
        m for m in contacts.members if "Lewellyn" in m or "Harriott" in m
    )
    assert len(contacts.members) == 2


def test_rewrapped_text_and_reescaped_quotes_are_the_same_text() -> None:
    old, new = load("NCT02903849__2017-10-20.xml"), load("NCT02903849__2018-05-11.xml")
    assert old["protocolSection"]["descriptionModule"] == new["protocolSection"]["descriptionModule"]
    assert 'click "next", they' in old["protocolSection"]["descriptionModule"]["detailedDescription"]


def test_a_masking_that_only_lists_the_roles_counts_them() -> None:
    roles = "Participant, Care Provider, Investigator, Outcomes Assessor"
    assert masking(roles) == masking(f"Quadruple ({roles})")
    assert masking("Participant, Investigator") == {
        "masking": "DOUBLE",
        "whoMasked": ["PARTICIPANT", "INVESTIGATOR"],
    }
    old, new = load("NCT02586688__2017-08-08.xml"), load("NCT02586688__2018-05-11.xml")
    design = [s["protocolSection"]["designModule"] for s in (old, new)]
    assert design[0] == design[1]


def test_the_one_line_study_design_reads_as_its_elements() -> None:
    line = (
        "Allocation: Randomized, Endpoint Classification: Safety/Efficacy Study, Intervention Model:"
        " Parallel Assignment, Masking: Double Blind (Subject, Investigator), Primary Purpose: Treatment"
    )
    head = "<clinical_study><id_info><nct_id>NCT00000000</nct_id></id_info>"
    old = to_api_v2(f"{head}<study_design>{line}</study_design></clinical_study>")
    new = to_api_v2(
        f"{head}<study_design_info><allocation>Randomized</allocation><intervention_model>Parallel"
        " Assignment</intervention_model><primary_purpose>Treatment</primary_purpose><masking>Double"
        " (Participant, Investigator)</masking></study_design_info></clinical_study>"
    )
    assert old["protocolSection"]["designModule"] == new["protocolSection"]["designModule"]
    assert new["protocolSection"]["designModule"]["designInfo"]["maskingInfo"] == {
        "masking": "DOUBLE",
        "whoMasked": ["PARTICIPANT", "INVESTIGATOR"],
    }


def test_the_one_line_design_of_2016_reads_as_the_design_fields() -> None:
    old, new = load("NCT00513591__2016-06-29.xml"), load("NCT00513591__2017-10-20.xml")
    design = old["protocolSection"]["designModule"]["designInfo"]
    assert design == {"observationalModel": "COHORT", "timePerspective": "PROSPECTIVE"}
    assert design == new["protocolSection"]["designModule"]["designInfo"]
    line = (
        "Allocation: Randomized, Endpoint Classification: Safety/Efficacy Study, Intervention Model:"
        " Parallel Assignment, Masking: Double Blind (Subject, Investigator), Primary Purpose: Treatment"
    )
    xml = f"<clinical_study><study_design>{line}</study_design></clinical_study>"
    assert to_api_v2(xml)["protocolSection"]["designModule"]["designInfo"] == {
        "allocation": "RANDOMIZED",
        "interventionModel": "PARALLEL",
        "primaryPurpose": "TREATMENT",
        "maskingInfo": {"masking": "DOUBLE", "whoMasked": ["PARTICIPANT", "INVESTIGATOR"]},
    }


def test_the_one_line_study_design_and_both_read_as_the_later_vocabulary() -> None:
    old, new = capture_study("NCT00023673__2016-08-04.xml"), capture_study("NCT00023673__2018-05-11.xml")
    design = old["protocolSection"]["designModule"]["designInfo"]
    assert design == new["protocolSection"]["designModule"]["designInfo"]
    assert design["allocation"] == "NON_RANDOMIZED" and design["maskingInfo"] == {"masking": "NONE"}
    assert old["protocolSection"]["eligibilityModule"]["sex"] == "ALL"
    line = (
        "<clinical_study><study_design>Allocation: Randomized, Intervention Model: Parallel Assignment,"
        " Masking: Double Blind (Subject, Investigator), Primary Purpose: Prevention</study_design>"
        "</clinical_study>"
    )
    info = to_api_v2(line)["protocolSection"]["designModule"]["designInfo"]
    assert info["maskingInfo"] == {"masking": "DOUBLE", "whoMasked": ["PARTICIPANT", "INVESTIGATOR"]}
    assert (info["allocation"], info["interventionModel"]) == ("RANDOMIZED", "PARALLEL")


def test_a_start_date_printed_without_its_type_is_the_only_compared_difference() -> None:
    old, new = capture_study("NCT01841593__2017-01-18b.xml"), capture_study("NCT01841593__2018-05-11.xml")
    started = old["protocolSection"]["statusModule"].pop("startDateStruct")
    assert (started, new["protocolSection"]["statusModule"].pop("startDateStruct")) == (
        {"date": "2013-04", "type": "ACTUAL"},
        {"date": "2013-04"},
    )
    for study in (old, new):
        study["protocolSection"]["statusModule"].pop("lastUpdatePostDateStruct", None)
    assert old == new


def test_old_blind_masking_counts_the_roles_it_names() -> None:
    # NCT02679963 was "Double Blind" with four roles in 2017 and "Quadruple" with the same four in 2018
    old = masking("Double Blind (Subject, Caregiver, Investigator, Outcomes Assessor)")
    assert old == masking("Quadruple (Participant, Care Provider, Investigator, Outcomes Assessor)")
    assert old is not None and old["masking"] == "QUADRUPLE"
    assert masking("Double Blind (Subject, Investigator)") == masking("Double (Participant, Investigator)")
    assert masking("Double Blind") == {"masking": "DOUBLE"}


def test_a_record_rewrapped_and_reworded_by_the_registry_reads_the_same() -> None:
    # NCT01174550, one registry version downloaded in January and October 2017: masking "Open Label"
    # became "None (Open Label)", two criteria were re-wrapped, the new date names appeared
    old, new = capture_study("NCT01174550__2017-01-18.xml"), capture_study("NCT01174550__2017-10-20.xml")
    assert "lastUpdatePostDateStruct" not in old["protocolSection"]["statusModule"]
    assert new["protocolSection"]["statusModule"].pop("lastUpdatePostDateStruct") == {
        "date": "2016-02-29",
        "type": "ESTIMATED",
    }
    assert old == new
    design = old["protocolSection"]["designModule"]
    assert design["designInfo"]["maskingInfo"] == {"masking": "NONE"}
    assert design["enrollmentInfo"] == {"count": 10003, "type": "ACTUAL"}
    assert len(old["protocolSection"]["outcomesModule"]["secondaryOutcomes"]) == 11
    criteria = old["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    assert (
        "women age ≥50 years with increased probability of coronary artery disease (CAD) due to either"
        in criteria
    )


def test_a_withheld_placeholder_made_public_reads_in_one_screen() -> None:
    old, new = load("NCT01341288__2016-08-16.xml"), load("NCT01341288__2017-08-08.xml")
    assert set(old["protocolSection"]) == {
        "identificationModule",
        "statusModule",
        "sponsorCollaboratorsModule",
        "designModule",
    }
    criteria = new["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    inclusion, exclusion = criteria.split("Exclusion Criteria:")
    assert (inclusion.count("\n-  "), exclusion.count("\n-  ")) == (10, 12)
    events = diff_studies(old, new)
    status = next(e for e in events if e.category == "status")
    assert (status.old, status.new, status.detail) == ("WITHHELD", "TERMINATED", "why stopped: Slow accrual")
    design = next(e for e in events if e.field == "Study design")
    assert sorted(design.members) == [
        "Intervention model: — → SINGLE_GROUP",
        "Masking: — → NONE",
        "Primary purpose: — → TREATMENT",
    ]
