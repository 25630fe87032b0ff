"""``trialwatch diff`` and the safe JSON parser on hostile input: exit 2 naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from trialwatch import safejson
from trialwatch.cli import main

from .fault_registry import padded_study, study_for

SAMPLES = Path(safejson.__file__).resolve().parent / "replay" / "data" / "samples"

NCT = "NCT10000001"


def strict_json(text: str) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity, which Python would accept, fail here."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in output")

    return json.loads(text, parse_constant=refuse)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def with_count(literal: str) -> str:
    """The text of a record whose enrollment count is ``literal`` (any JSON-ish token)."""
    return json.dumps(study_for(NCT)).replace('"count": ', f'"count": {literal}, "was": ', 1)


HOSTILE = {
    "deep_nesting": ("[" * 10_000 + "]" * 10_000, "nested more than 64 levels deep"),
    "deep_object": ('{"a": ' * 10_000 + "1" + "}" * 10_000, "nested more than 64 levels deep"),
    "long_int": (with_count("9" * 5000), "a number of 5000 characters, more than the 100 allowed"),
    "long_float": (with_count("1." + "5" * 5000), "a number of 5002 characters"),
    "nan": (with_count("NaN"), "NaN is not a JSON value"),
    "infinity": (with_count("Infinity"), "Infinity is not a JSON value"),
    "minus_infinity": (with_count("-Infinity"), "-Infinity is not a JSON value"),
    "overflow": (with_count("1e999"), "the number 1e999 is out of range"),
    "not_utf8": (b"\xff\xfe{}", "not UTF-8"),
    # Valid structure, one text's bytes not UTF-8: the fast parser raised its own error here.
    "not_utf8_in_a_text": (with_count('"x"').encode().replace(b'"x"', b'"\xe9"', 1), "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_exits_2_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    content, reason = HOSTILE[case]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(study_for(NCT)), encoding="utf-8")
    bad = tmp_path / f"{case}.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, str(good), str(bad))
    assert (code, out) == (2, "")
    assert str(bad) in err and reason in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_output_is_strict_json_with_numbers_at_the_edges(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(with_count("1e-300"), encoding="utf-8")
    new.write_text(with_count("1.5e300"), encoding="utf-8")
    code, out, _ = run(capsys, str(old), str(new))
    assert code == 0
    events = strict_json(out)
    assert [(e["field"], e["old"], e["new"]) for e in events] == [("Enrollment", 1e-300, 1.5e300)]


def test_a_10_mb_record_diffs_to_one_summary_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old_study = padded_study(NCT, 10_000_000)
    new_study = json.loads(json.dumps(old_study))
    text = old_study["protocolSection"]["descriptionModule"]["detailedDescription"]
    middle = len(text) // 2
    # 1,000 characters of the middle become 3,000 of a character the text does not hold.
    changed = text[:middle] + "Z" * 3000 + text[middle + 1000 :]
    new_study["protocolSection"]["descriptionModule"]["detailedDescription"] = changed
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(old_study), encoding="utf-8")
    new.write_text(json.dumps(new_study), encoding="utf-8")
    code, out, _ = run(capsys, str(old), str(new))
    assert code == 0
    events = strict_json(out)
    assert len(events) == 1
    event = events[0]
    assert (event["category"], event["field"], event["severity"]) == ("other", "Detailed description", "info")
    assert "text changed: +3,000/−1,000 characters" in event["detail"]
    assert event["extra"]["old_chars"] == len(text.strip()) and event["extra"]["new_chars"] == len(
        changed.strip()
    )


def test_safejson_keeps_ordinary_records_intact() -> None:
    study = study_for(NCT)
    assert safejson.loads(json.dumps(study)) == study
    assert safejson.loads(json.dumps(study).encode("utf-8")) == study


def test_safejson_dumps_refuses_nan() -> None:
    with pytest.raises(ValueError):
        safejson.dumps({"count": float("nan")})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('["\\\\", "[[[", "\\"]]"]', ["\\", "[[[", '"]]']),  # brackets and escapes inside strings
        (
            '{"phone": "' + "9" * 300 + '", "dashes": "' + "-" * 300 + '"}',
            {"phone": "9" * 300, "dashes": "-" * 300},
        ),
        ("[" + "9" * 100 + "]", [int("9" * 100)]),  # exactly the limit
        ("[" * 64 + "]" * 64, json.loads("[" * 64 + "]" * 64)),
        # wide and shallow beside one path exactly 64 deep (1 + 63)
        (
            "[" + "{}, [], " * 500 + "[" * 63 + "]" * 63 + "]",
            json.loads("[" + "{}, [], " * 500 + "[" * 63 + "]" * 63 + "]"),
        ),
    ],
)
def test_safejson_accepts_what_only_looks_hostile(text: str, expected: Any) -> None:
    assert safejson.loads(text) == expected
    assert safejson.loads(text.encode("utf-8")) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 65 + "]" * 65, "nested more than 64 levels deep"),
        ("[" + "{}, [], " * 500 + "[" * 64 + "]" * 64 + "]", "nested more than 64 levels deep"),
        ('{"a": [' + '"]]]]", ' * 3 + "[" * 70 + "]" * 70 + "]}", "nested more than 64 levels deep"),
        ('{"n": -1.' + "5" * 98 + "}", "a number of 101 characters"),
        ('{"n": 1.' + "5" * 96 + "e12}", "a number of 101 characters"),  # a long one with an exponent
        ("\ufeff[1]", None),  # a byte order mark is allowed, as json.loads with utf-8-sig allows it
    ],
)
def test_safejson_fast_path_refuses_like_the_strict_parser(text: str, reason: str | None) -> None:
    if reason is None:
        assert safejson.loads(text.encode("utf-8")) == [1]
        return
    with pytest.raises(safejson.UnsafeJSON, match=reason):
        safejson.loads(text.encode("utf-8"))


def _outside_by_walking(raw: bytes) -> bytes:
    """The reference: a character walk that knows when it is inside a string."""
    out, inside, escaped = bytearray(), False, False
    for byte in raw:
        char = chr(byte)
        if inside:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                inside = False
        elif char == '"':
            inside = True
        else:
            out.append(byte)
    return bytes(out)


def _brackets_by_walking(raw: bytes) -> bytes:
    return bytes(byte for byte in _outside_by_walking(raw) if chr(byte) in "[]{}")


def test_brackets_outside_strings_match_a_character_walk() -> None:
    import random

    from trialwatch.safejson import _brackets_outside_strings, _outside_strings

    rng = random.Random(20261129)
    pieces = ["[", "]", "{", "}", '"', "\\", "\\\\", '\\"', "a", "é", " ", "\n", ":", ","]

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth > 6 or roll < 0.4:
            return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        if roll < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {value(7): value(depth + 1) for _ in range(rng.randint(0, 4))}

    for _ in range(2000):
        raw = json.dumps(value(0), ensure_ascii=rng.random() < 0.5).encode("utf-8")
        assert _brackets_outside_strings(raw) == _brackets_by_walking(raw), raw
        assert _outside_strings(raw) == _outside_by_walking(raw), raw
    for sample in sorted(SAMPLES.glob("*.json")):
        raw = sample.read_bytes()
        assert _brackets_outside_strings(raw) == _brackets_by_walking(raw), sample.name
        assert _outside_strings(raw) == _outside_by_walking(raw), sample.name


# A typed decode that skips over values (msgspec.Raw) does not read their numbers.
_SKIPPING = msgspec.json.Decoder(list[msgspec.Raw])


@pytest.mark.parametrize("number", ["1e999", "-2.5E+400", "1." + "5" * 96 + "e12"])
def test_a_typed_decode_is_not_vouched_for_with_a_number_it_could_not_read(number: str) -> None:
    assert safejson.loads_typed(f"[[{number}], 1]".encode(), _SKIPPING) is None


@pytest.mark.parametrize(
    "text",
    [
        '["1e999", "RMD Open. 2022;8(1):e002138", "' + "7" * 300 + '"]',  # only texts look like them
        "[[1e-999, 1e99, 12.5e+30, -0.5E-12, " + "9" * 100 + "]]",
    ],
)
def test_a_typed_decode_is_vouched_for_with_numbers_in_range(text: str) -> None:
    items = safejson.loads_typed(text.encode(), _SKIPPING)
    assert items is not None
    assert [safejson.loads(bytes(item)) for item in items] == json.loads(text)
