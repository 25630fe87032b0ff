"""``reconcile``: a finding is new once, open while it lasts, resolved once."""

from __future__ import annotations

from datetime import date

from trialwatch.findings import Finding, evaluate, reconcile

from .records import load, status


def finding(code: str, detail: str = "", nct_id: str = "NCT01234567", key: str = "") -> Finding:
    return Finding(
        code=code,
        nct_id=nct_id,
        title=code,
        detail=detail,
        category="status",
        severity="major",
        rule="rule",
        key=key,
    )


def keys(findings: list[Finding]) -> list[str]:
    return [f.key for f in findings]


def test_new_still_open_and_resolved_by_key() -> None:
    stale, late, stop = (
        finding("verification_stale"),
        finding("status_past_completion"),
        finding("stop_reason_missing"),
    )
    new, still_open, resolved = reconcile([stale, late], [late, stop])
    assert keys(new) == ["NCT01234567/stop_reason_missing"]
    assert keys(still_open) == ["NCT01234567/status_past_completion"]
    assert keys(resolved) == ["NCT01234567/verification_stale"]


def test_a_finding_whose_detail_moves_on_stays_the_same_finding() -> None:
    before = finding("verification_stale", "verified 2024-07, 2 years ago")
    now = finding("verification_stale", "verified 2024-07, 3 years ago")
    new, still_open, resolved = reconcile([before], [now])
    assert (new, resolved) == ([], [])
    assert still_open == [now]  # as it is now, for the page that lists open findings


def test_findings_of_one_kind_on_different_subjects_are_tracked_apart() -> None:
    start = finding("actual_date_in_future", key="NCT01234567/actual_date_in_future/start")
    completion = finding("actual_date_in_future", key="NCT01234567/actual_date_in_future/completion")
    new, still_open, resolved = reconcile([start], [completion])
    assert (new, still_open, resolved) == ([completion], [], [start])


def test_reported_once_over_a_run_of_days() -> None:
    # Real record: RECRUITING with primary completion 2024-09 (estimated), verification made fresh.
    # Day 1 and 2 it is past its completion date; on day 3 the sponsor has closed recruitment.
    recruiting = load("page_NCT05147467_with_token.json")
    status(recruiting)["statusVerifiedDate"] = "2024-10"
    closed = load("page_NCT05147467_with_token.json")
    status(closed)["statusVerifiedDate"] = "2024-10"
    status(closed)["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    days = [(recruiting, date(2024, 10, 2)), (recruiting, date(2024, 10, 3)), (closed, date(2024, 10, 4))]
    open_findings: list[Finding] = []
    reported = []
    for record, day in days:
        new, still_open, resolved = reconcile(open_findings, evaluate(record, as_of=day))
        reported.append((keys(new), keys(resolved)))
        open_findings = new + still_open
    late = "NCT05147467/status_past_completion"
    assert reported == [([late], []), ([], []), ([], [late])]
    assert open_findings == []


def test_a_key_repeated_in_one_list_counts_once() -> None:
    one, again = finding("verification_stale", "a"), finding("verification_stale", "b")
    assert reconcile([], [one, again]) == ([one], [], [])
    assert reconcile([one, again], []) == ([], [], [one])
