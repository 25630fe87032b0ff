"""`trialwatch findings RECORD.json`: the command over a real sample record."""

from __future__ import annotations

import io
import json

from trialwatch.cli import main

from tests.findings.records import SAMPLES

# Real record: COMPLETED, PHASE2, primary completion 2020-03-13 (actual), FDA-regulated drug,
# no results and no certification or extension on file: results were due 2021-03-13.
OVERDUE = SAMPLES / "study_NCT03418623.json"


def test_json_lists_the_finding_and_as_of_moves_it(capsys) -> None:
    assert main(["findings", str(OVERDUE), "--as-of", "2026-11-01"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in found] == ["results_overdue"]
    assert found[0]["nct_id"] == "NCT03418623"

    assert main(["findings", str(OVERDUE), "--as-of", "2021-03-13"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_text_format_and_exit_code(capsys) -> None:
    assert main(["findings", str(OVERDUE), "--as-of", "2026-11-01", "--format", "text", "--exit-code"]) == 1
    out = capsys.readouterr().out
    assert "NCT03418623" in out and "2021-03-13" in out
    assert main(["findings", str(OVERDUE), "--as-of", "2021-03-13", "--exit-code"]) == 0


def test_stdin_and_bad_input_exit_2_in_one_line(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(OVERDUE.read_text(encoding="utf-8")))
    assert main(["findings", "-", "--as-of", "2026-11-01"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["code"] == "results_overdue"

    broken = tmp_path / "broken.json"
    broken.write_text('{"protocolSection": ', encoding="utf-8")
    assert main(["findings", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(broken) in err

    assert main(["findings", str(OVERDUE), "--as-of", "yesterday"]) == 2
    assert "not a date" in capsys.readouterr().err
