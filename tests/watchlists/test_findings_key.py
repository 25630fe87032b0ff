"""The watchlist ``findings`` key: all by default, off with false, or a list of checked codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from trialwatch.findings import CODES
from trialwatch.watchlists import WatchlistError, describe, load_watchlist

MINIMAL = "title: Minimal\ntrials: [NCT02185781]\n"


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "office.yaml"
    path.write_text(text, encoding="utf-8")
    return load_watchlist(path)


def test_findings_default_to_every_check(tmp_path: Path) -> None:
    watchlist = load(tmp_path, MINIMAL)
    assert watchlist.findings == CODES
    assert "results_overdue" in watchlist.findings
    assert not any("findings:" in line for line in describe(watchlist))


def test_true_false_and_a_list(tmp_path: Path) -> None:
    assert load(tmp_path, MINIMAL + "findings: true\n").findings == CODES
    off = load(tmp_path, MINIMAL + "findings: false\n")
    assert off.findings == ()
    assert any(line.strip() == "findings:   off" for line in describe(off))
    some = load(tmp_path, MINIMAL + "findings: [Results_Overdue, verification_stale, results_overdue]\n")
    assert some.findings == ("results_overdue", "verification_stale")
    assert load(tmp_path, MINIMAL + "findings: stop_reason_missing\n").findings == ("stop_reason_missing",)


def test_every_bad_entry_is_reported_with_its_line_and_a_hint(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError) as caught:
        load(tmp_path, MINIMAL + "findings:\n  - results_overdeu\n  - 7\n  - verification_stale\n")
    problems = caught.value.problems
    assert len(problems) == 2
    assert "findings[0] (line 4): unknown finding 'results_overdeu'" in problems[0]
    assert "(did you mean 'results_overdue'?)" in problems[0]
    assert "findings[1] (line 5): unknown finding" in problems[1]


def test_a_mapping_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match=r"findings \(line 3\) must be true, false or a list"):
        load(tmp_path, MINIMAL + "findings: {results_overdue: yes}\n")
