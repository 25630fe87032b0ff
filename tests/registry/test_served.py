"""Records kept as served (registry.served): the quick hash from bytes, decoding on first use."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from trialwatch import records, safejson, settings
from trialwatch.pipeline import gate_batch
from trialwatch.records import MalformedRecord
from trialwatch.registry.served import ServedStudy, page_of_served
from trialwatch.store import repository as repo

SAMPLES = settings.PACKAGE_DIR / "replay" / "data" / "samples"
STUDY_FILES = sorted(SAMPLES.glob("study_*.json"))


def _study(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def _compact(value: Any) -> bytes:
    # As the registry sends a page: compact, UTF-8 as it is.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _served(*studies: dict[str, Any], **page: Any) -> dict[str, Any]:
    data = page_of_served(_compact({"studies": list(studies), **page}))
    assert data is not None
    return data


@pytest.mark.parametrize("path", STUDY_FILES, ids=[p.name for p in STUDY_FILES])
def test_every_sample_reads_back_whole_with_the_same_quick_hash(path: Any) -> None:
    study = json.loads(path.read_text(encoding="utf-8"))
    (served,) = _served(study)["studies"]
    assert isinstance(served, ServedStudy)
    assert served.nct_id == study["protocolSection"]["identificationModule"]["nctId"]
    assert served.size == len(_compact(study))
    assert served.quick_hash() == records.quick_hash(study)  # before decoding: from the bytes
    assert served.study == study and dict(served) == study
    assert list(served) == list(study)  # the registry's member order


def test_two_builds_of_one_version_hash_alike_and_an_edit_does_not() -> None:
    # The two real files of NCT02552212 differ only in derivedSection (versionHolder).
    old = _study("study_NCT02552212__vh2023-12-12.json")
    new = _study("study_NCT02552212__vh2024-01-03.json")
    assert old["derivedSection"] != new["derivedSection"]
    (a,), (b,) = _served(old)["studies"], _served(new)["studies"]
    assert a.quick_hash() == b.quick_hash()
    edited = json.loads(json.dumps(old))
    edited["protocolSection"]["statusModule"]["overallStatus"] = "SUSPENDED"
    (c,) = _served(edited)["studies"]
    assert c.quick_hash() != a.quick_hash()
    moved = dict(old, hasResults=not old["hasResults"])
    (d,) = _served(moved)["studies"]
    assert d.quick_hash() != a.quick_hash()


def test_the_page_keeps_its_token_count_aliases_and_ids() -> None:
    study = _study("study_NCT02552212__vh2024-01-03.json")
    study["protocolSection"]["identificationModule"]["nctIdAliases"] = ["nct00000101 "]
    page = _served(study, nextPageToken="abc", totalCount=7)
    assert (page["nextPageToken"], page["totalCount"]) == ("abc", 7)
    (served,) = page["studies"]
    assert (served.nct_id, served.aliases) == ("NCT02552212", frozenset({"NCT00000101"}))


def test_a_study_without_a_readable_id_has_none() -> None:
    no_id = {"protocolSection": {"identificationModule": {"briefTitle": "x"}}}
    bad_id = {"protocolSection": {"identificationModule": {"nctId": "12"}}}
    not_object = {"protocolSection": [1, 2]}
    assert [s.nct_id for s in _served(no_id, bad_id, not_object)["studies"]] == [None, None, None]
    # Bytes that are not UTF-8 beside the id: the page is still read, that study has no id.
    body = _compact({"studies": [no_id]}).replace(b'"x"', b'"\xff"')
    assert b"\xff" in body
    (study,) = page_of_served(body)["studies"]  # type: ignore[index]
    assert study.nct_id is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"studies":[{"protocolSection":{},"newSection":{}}]}',  # the quick hash must see every member
        b'{"studies":[{"protocolSection":{"x":NaN}}]}',
        b'{"studies":[],"nextPageToken":5}',
        b'{"studies":[],"nextPageToken":"\xff"}',
        b"<html>busy</html>",
        b'{"studies":[{"protocolSection":' + b"[" * 70 + b"]" * 70 + b"}]}",
        # out of a float's range, where the typed decode skips over it: only an exponent can do that
        b'{"studies":[{"protocolSection":{},"resultsSection":{"x":[1e999]}}]}',
        b'{"studies":[{"protocolSection":{},"resultsSection":{"x":-2.5E+400}}]}',
    ],
    ids=[
        "unknown member",
        "nan",
        "token not a string",
        "token not utf-8",
        "html",
        "too deep",
        "overflow",
        "signed overflow",
    ],
)
def test_pages_the_fast_path_does_not_vouch_for_go_the_ordinary_way(body: bytes) -> None:
    assert page_of_served(body) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b'"\xff"', "not UTF-8"), (b'"caf\xc3"', "not UTF-8")],
    ids=["not utf-8", "truncated utf-8"],
)
def test_what_the_page_checks_cannot_see_names_the_record_when_read(value: bytes, reason: str) -> None:
    # A typed decode skips over the members without checking texts' bytes.
    body = b'{"studies":[{"protocolSection":{"identificationModule":{"nctId":"NCT00000102"}},"resultsSection":{"x":%s}}]}'
    page = page_of_served(body % value)
    assert page is not None
    (served,) = page["studies"]
    assert served.nct_id == "NCT00000102"
    with pytest.raises(MalformedRecord, match=f"NCT00000102: resultsSection: .*{reason}"):
        _ = served.study
    gate = gate_batch({"NCT00000102": served}, {}, use_history=False)  # a new trial: it must be read
    ((failure),) = gate.failures
    assert failure["nct_id"] == "NCT00000102" and reason in failure["error"]
    assert not (gate.writes or gate.prepared or gate.unchanged)


def test_the_gate_never_decodes_a_record_whose_quick_hash_is_stored() -> None:
    old = _study("study_NCT02552212__vh2023-12-12.json")
    new = _study("study_NCT02552212__vh2024-01-03.json")
    (served,) = _served(new)["studies"]
    state = {"NCT02552212": repo.Stored(1, records.content_hash(old), records.quick_hash(old))}
    gate = gate_batch({"NCT02552212": served}, state, use_history=False)
    assert gate.unchanged == {"NCT02552212": (records.content_hash(old), None)}
    assert served._study is None  # never decoded

    edited = json.loads(json.dumps(new))
    edited["protocolSection"]["statusModule"]["overallStatus"] = "SUSPENDED"
    (changed,) = _served(edited)["studies"]
    gate = gate_batch({"NCT02552212": changed}, state, use_history=False)
    assert list(gate.changed) == ["NCT02552212"] and changed._study is not None
    assert gate.changed["NCT02552212"][0] == edited


@pytest.mark.parametrize("path", STUDY_FILES, ids=[p.name for p in STUDY_FILES])
def test_the_json_as_served_is_the_record(path: Any) -> None:
    study = json.loads(path.read_text(encoding="utf-8"))
    (served,) = _served(study)["studies"]
    assert served.json() == _compact(study)  # the page's own bytes, unchanged
    assert json.loads(served.json()) == study


def test_a_new_trial_is_stored_as_served_and_reads_back_whole(store: Any) -> None:
    """A new trial's record goes to the store as the bytes the registry sent, not encoded again."""
    from trialwatch.store.models import StudyVersion

    study = _study("study_NCT03418623.json")
    (served,) = _served(study)["studies"]
    gate = gate_batch({"NCT03418623": served}, {}, use_history=False)
    (write,) = gate.writes
    assert write.version.served_json == _compact(study)
    with store.session() as session:
        repo.store_batch(session, gate.writes, data_timestamp=None)
    with store.session() as session:
        (version,) = session.query(StudyVersion).all()
        assert version.raw_json == study


@pytest.mark.parametrize("path", STUDY_FILES, ids=[p.name for p in STUDY_FILES])
def test_a_new_trial_is_stored_with_its_overview_read_from_its_outline_alone(path: Any) -> None:
    study = json.loads(path.read_text(encoding="utf-8"))
    nct_id = study["protocolSection"]["identificationModule"]["nctId"]
    (served,) = _served(study)["studies"]
    gate = gate_batch({nct_id: served}, {}, use_history=False)
    (write,) = gate.writes
    assert served._study is None  # never decoded whole
    assert write.version.outline == {
        "protocolSection": {
            name: study["protocolSection"][name]
            for name in ("identificationModule", "statusModule", "designModule")
            if name in study["protocolSection"]
        }
    }
    whole = repo.NewVersion(study, write.version.content_hash, [], backfill=True)
    assert repo._shown(write.version) == repo._shown(whole)
    assert write.version.served_json == _compact(study)


@pytest.mark.parametrize(
    ("section", "module", "value", "problem"),
    [
        ("protocolSection", "statusModule", [], "protocolSection.statusModule is a list"),
        (
            "resultsSection",
            "baselineCharacteristicsModule",
            "x",
            "resultsSection.baselineCharacteristicsModule is a str",
        ),
        ("derivedSection", None, [], "derivedSection is a list"),
    ],
)
def test_a_new_trial_of_the_wrong_shape_fails_naming_the_part(
    section: str, module: str | None, value: Any, problem: str
) -> None:
    study = _study("study_NCT03418623.json")
    if module is None:
        study[section] = value
    else:
        study.setdefault(section, {})[module] = value
    (served,) = _served(study)["studies"]
    gate = gate_batch({"NCT03418623": served}, {}, use_history=False)
    ((failure),) = gate.failures
    assert failure["nct_id"] == "NCT03418623" and problem in failure["error"]
    assert not gate.writes


def _mutants(study: dict[str, Any], seed: int) -> list[bytes]:
    """Pages of ``study`` with one odd part each: a module or section of another type, bytes that are
    not UTF-8 in a text, a number far out of range, or nothing odd at all."""
    import random

    rng = random.Random(seed)
    pages: list[bytes] = [_compact({"studies": [study]})]
    for section, modules in study.items():
        if not isinstance(modules, dict):
            continue
        for module in modules:
            for odd in ([], "text", 7, None):
                mutant = json.loads(json.dumps(study))
                mutant[section][module] = odd
                pages.append(_compact({"studies": [mutant]}))
        for odd in ([], "text", None):
            mutant = json.loads(json.dumps(study))
            mutant[section] = odd
            pages.append(_compact({"studies": [mutant]}))
    page = _compact({"studies": [study]})
    texts = [m.start() for m in re.finditer(rb'":"[A-Za-z]', page)]
    for at in rng.sample(texts, min(20, len(texts))):
        pages.append(page[: at + 3] + b"\xff" + page[at + 3 :])  # not UTF-8 inside a text
    numbers = [m.end() for m in re.finditer(rb'":[0-9]+', page)]
    for at in rng.sample(numbers, min(5, len(numbers))):
        pages.append(page[:at] + b"e999" + page[at:])  # out of a float's range
    return pages


@pytest.mark.parametrize("path", STUDY_FILES[:6], ids=[p.name for p in STUDY_FILES[:6]])
def test_a_served_new_trial_is_gated_as_its_decoded_record_would_be(path: Any) -> None:
    """The outline path (served bytes, partly decoded) against the whole record decoded by the ordinary
    parser: the same failures, the same overview columns, bytes that decode to the same record."""
    study = json.loads(path.read_text(encoding="utf-8"))
    nct_id = study["protocolSection"]["identificationModule"]["nctId"]
    for page in _mutants(study, seed=len(path.name)):
        try:
            whole = safejson.loads(page)["studies"][0]
        except safejson.UnsafeJSON:
            whole = None  # the ordinary path refuses the page: the served one must not store it either
        served = page_of_served(page)
        if served is None:
            continue  # the page goes the ordinary way, which the other tests cover
        (fetched,) = served["studies"]
        by_bytes = gate_batch({nct_id: fetched}, {}, use_history=False)
        if whole is None:
            assert by_bytes.failures and not by_bytes.writes, page[:80]
            continue
        by_record = gate_batch({nct_id: whole}, {}, use_history=False)
        assert bool(by_bytes.failures) == bool(by_record.failures), by_record.failures or by_bytes.failures
        if by_record.writes:
            (a,), (b,) = by_bytes.writes, by_record.writes
            assert repo._shown(a.version) == repo._shown(b.version)
            assert safejson.loads(a.version.served_json) == whole
