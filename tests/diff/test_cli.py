"""``trialwatch diff`` end to end through the real console entry point."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from trialwatch.cli import main

from .samples import SAMPLES, load, protocol

PAIR = [
    str(SAMPLES / "study_NCT02552212__vh2023-12-12.json"),
    str(SAMPLES / "study_NCT02552212__vh2024-01-03.json"),
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_real_pair_prints_no_events_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *PAIR, "--format", "json")
    assert code == 0
    assert json.loads(out) == []


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_real_pair_prints_no_events_as_text_and_html(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = run(capsys, *PAIR, "--format", fmt)
    assert code == 0
    assert "No material changes" in out
    assert "Overall status" not in out


def write(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def suspended_pair(tmp_path: Path) -> tuple[str, str]:
    old = load("page_NCT05147467_with_token.json")
    new = copy.deepcopy(old)
    protocol(new)["statusModule"]["overallStatus"] = "SUSPENDED"
    protocol(new)["designModule"]["enrollmentInfo"]["count"] = 80
    page = {"studies": [new], "nextPageToken": "abc"}
    return write(tmp_path, "old.json", old), write(tmp_path, "new_page.json", page)


def test_events_as_json_from_a_one_study_page(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old, new = suspended_pair(tmp_path)
    code, out, _ = run(capsys, old, new)
    assert code == 0
    events = json.loads(out)
    assert [(e["category"], e["field"], e["old"], e["new"], e["severity"]) for e in events] == [
        ("status", "Overall status", "RECRUITING", "SUSPENDED", "critical"),
        ("enrollment", "Enrollment", 75, 80, "minor"),
    ]
    assert all(e["nct_id"] == "NCT05147467" for e in events)


def test_thresholds_option_changes_severity(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old, new = suspended_pair(tmp_path)
    code, out, _ = run(
        capsys, old, new, "--thresholds", "enrollment_major_pct=5", "critical_statuses=TERMINATED"
    )
    assert code == 0
    assert [e["severity"] for e in json.loads(out)] == ["major", "major"]


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_events_render_with_the_digest_templates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    old, new = suspended_pair(tmp_path)
    code, out, _ = run(capsys, old, new, "--format", fmt)
    assert code == 0
    assert "suspended" in out.lower() and "NCT05147467" in out
    assert "Overall status" in out and "Enrollment" in out


def test_bad_inputs_exit_2_naming_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = str(SAMPLES / "study_NCT00184067.json")
    cases = {
        write(tmp_path, "list.json", [1, 2]): "expected a study object",
        write(tmp_path, "no_id.json", {"protocolSection": {}}): "nctId",
        str(SAMPLES / "page_NCT00184067_NCT03934567_with_token.json"): "exactly one study",
        str(SAMPLES / "study_NCT03934567.json"): "not two versions of one study",
        str(tmp_path / "missing.json"): "cannot read",
    }
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    cases[str(tmp_path / "broken.json")] = "not JSON"
    for path, message in cases.items():
        code, out, err = run(capsys, good, path)
        assert code == 2, path
        assert out == ""
        assert message in err and Path(path).name in err, err


def test_bad_threshold_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *PAIR, "--thresholds", "enrollment_major_pct=lots")
    assert code == 2
    assert "enrollment_major_pct='lots'" in err


def test_installed_console_script_runs() -> None:
    script = Path(sys.executable).with_name("trialwatch")
    result = subprocess.run(
        [str(script), "diff", *PAIR, "--format", "json"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
