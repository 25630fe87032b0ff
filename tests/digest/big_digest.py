"""A large, varied set of change events (statuses, enrollment, dates, sites, eligibility text) for the
digest's size budget test and benchmark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trialwatch.events import ChangeEvent, StoredEvent
from trialwatch.records import TrialInfo

SEVERITY_CYCLE = ("info", "minor", "minor", "major", "info", "minor", "critical", "info", "major", "minor")
DETECTED = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
CRITERIA = "\n".join(
    f"* Criterion {i}: participants aged 18 to {60 + i} with measurable disease" for i in range(30)
)


def _event(n: int, nct_id: str) -> ChangeEvent:
    severity = SEVERITY_CYCLE[n % len(SEVERITY_CYCLE)]
    kind = n % 5
    common = {
        "nct_id": nct_id,
        "severity": severity,
        "old_version": 3,
        "new_version": 4,
        "new_version_date": "2026-11-20",
    }
    if kind == 0:
        return ChangeEvent(
            "status",
            "Overall status",
            "RECRUITING",
            "ACTIVE_NOT_RECRUITING",
            path="protocolSection.statusModule.overallStatus",
            **common,
        )
    if kind == 1:
        return ChangeEvent(
            "enrollment",
            "Enrollment",
            {"count": 100 + n % 50, "type": "ESTIMATED"},
            {"count": 90 + n % 70, "type": "ACTUAL"},
            path="protocolSection.designModule.enrollmentInfo",
            **common,
        )
    if kind == 2:
        return ChangeEvent(
            "dates",
            "Primary completion",
            {"date": "2026-03", "type": "ESTIMATED"},
            {"date": "2026-11", "type": "ESTIMATED"},
            path="protocolSection.statusModule.primaryCompletionDateStruct",
            **common,
        )
    if kind == 3:
        sites = [
            {
                "facility": f"Hospital {n}-{i}",
                "city": "Seattle",
                "country": "United States",
                "status": "RECRUITING",
            }
            for i in range(8)
        ]
        return ChangeEvent(
            "sites",
            "Site",
            [],
            sites,
            extra={"added": sites},
            path="protocolSection.contactsLocationsModule.locations",
            **common,
        )
    return ChangeEvent(
        "eligibility",
        "Eligibility criteria",
        CRITERIA,
        CRITERIA.replace("18", "16"),
        path="protocolSection.eligibilityModule.eligibilityCriteria",
        **common,
    )


def many_events(count: int, *, per_trial: int = 5) -> tuple[list[StoredEvent], dict[str, TrialInfo]]:
    """``count`` events over ``count / per_trial`` trials, ids ascending, with a title for each trial."""
    items, trials = [], {}
    for n in range(count):
        nct_id = f"NCT{10_000_000 + n // per_trial:08d}"
        trials[nct_id] = TrialInfo(
            title=f"A phase 2 study of NK cells in relapsed leukemia, cohort {n // per_trial}",
            status="RECRUITING",
        )
        items.append(StoredEvent(_event(n, nct_id), id=n + 1, detected_at=DETECTED - timedelta(minutes=n)))
    return items, trials
