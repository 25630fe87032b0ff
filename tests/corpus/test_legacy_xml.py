"""The classic-XML converter: the registry's two vocabularies and layouts give one API v2 shape."""

from __future__ import annotations

from trialwatch.diff import diff_studies

from .histories import CAPTURES
from .legacy_xml import date, masking, to_api_v2
from .model import REAL

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


def test_old_blind_masking_counts_the_roles_it_names() -> None:
    # NCT02679963 was "Double Blind" with four roles in 2017 and "Quadruple" with the same four in 2018
    old = masking("Double Blind (Subject, Caregiver, Investigator, Outcomes Assessor)")
    assert old == masking("Quadruple (Participant, Care Provider, Investigator, Outcomes Assessor)")
    assert old is not None and old["masking"] == "QUADRUPLE"
    assert masking("Double Blind (Subject, Investigator)") == masking("Double (Participant, Investigator)")
    assert masking("Double Blind") == {"masking": "DOUBLE"}
