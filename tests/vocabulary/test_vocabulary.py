"""Registry codes read as words, the same words wherever a reader meets them."""

from __future__ import annotations

from trialwatch.digest.render import change_view
from trialwatch.events import ChangeEvent
from trialwatch.vocabulary import ENUMS, SEVERITY_COLORS, humanise, humanise_text, label, labels


def test_every_enum_code_has_words_not_a_code():
    for enum, table in ENUMS.items():
        for code, words in table.items():
            assert words and words != code or code == "NIH", f"{enum}.{code} has no words"
            assert "_" not in words


def test_labels_for_the_codes_a_reader_met():
    assert label("ACTIVE_NOT_RECRUITING") == "Active, not recruiting"
    assert label("PHASE1") == "Phase 1"
    assert labels(["PHASE1", "PHASE2"]) == "Phase 1, Phase 2"
    assert label("ESTIMATED", "date_type") == "estimated"
    assert label("NONE", "masking") == "None (open label)"
    assert label("OTHER", "primary_purpose") == "Other"
    # A code added later by the registry still reads as words; plain text stays as it is.
    assert label("NEWLY_INVENTED_STATUS", "status") == "Newly invented status"
    assert label("Fred Hutchinson Cancer Center") == "Fred Hutchinson Cancer Center"


def test_humanise_follows_the_record_path():
    site = {"facility": "Clinic", "status": "RECRUITING", "country": "US"}
    assert humanise(site, "protocolSection.contactsLocationsModule.locations")["status"] == "Recruiting"
    assert humanise("COMPLETED", "protocolSection.contactsLocationsModule.locations[3].status") == "Completed"
    assert humanise({"date": "2024-05", "type": "ESTIMATED"}) == {"date": "2024-05", "type": "estimated"}
    assert humanise("DOUBLE", "protocolSection.designModule.designInfo.maskingInfo.masking") == "Double blind"
    # Free text that happens to be capitals is left alone when it is no code.
    assert humanise("CAR-T", "protocolSection.identificationModule.briefTitle") == "CAR-T"


def test_codes_inside_a_sentence():
    assert humanise_text("ESTIMATED → ACTUAL; PHASE2 added") == "estimated → actual; Phase 2 added"
    assert humanise_text("OTHER sponsors NA") == "OTHER sponsors NA"  # too common to be sure


def test_digest_shows_a_site_status_change_in_words():
    event = ChangeEvent(
        nct_id="NCT02185781",
        category="sites",
        field="Site recruitment status",
        old="RECRUITING",
        new="COMPLETED",
        severity="minor",
        path="protocolSection.contactsLocationsModule.locations[Fred Hutch].status",
    )
    view = change_view(event)
    assert (view.old, view.new) == ("Recruiting", "Completed")


def test_one_colour_per_severity():
    assert set(SEVERITY_COLORS) == {"critical", "major", "minor", "info"}
    assert len(set(SEVERITY_COLORS.values())) == 4
