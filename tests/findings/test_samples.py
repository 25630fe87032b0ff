"""``evaluate`` over every real record in the samples and the replay data, at one fixed date.

The expectations were written by reading each record's status module, design and oversight flags.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from trialwatch.findings import evaluate

from .records import SAMPLES, STUDIES

AS_OF = date(2026, 11, 1)

RESULTS = "results_overdue"
PAST = "status_past_completion"
NOT_STARTED = "recruitment_not_started"
STALE = "verification_stale"
NO_REASON = "stop_reason_missing"

EXPECTED: dict[str, list[str]] = {
    # Full records (as /studies/{id} returns them).
    "study_NCT00184067": [],  # TERMINATED with a reason; primary completion 2007-04, before FDAAA
    "study_NCT00763412": [],  # COMPLETED with results
    "study_NCT00973089": [],  # WITHDRAWN with a reason: owes no results
    "study_NCT02210780": [],  # COMPLETED with results
    "study_NCT02299791": [],  # COMPLETED with results
    "study_NCT02552212__vh2023-12-12": [],  # COMPLETED PHASE3 with results
    "study_NCT02552212__vh2024-01-03": [],
    "study_NCT03418623": [RESULTS],  # PHASE2, FDA drug, actual primary completion 2020-03-13, no results
    "study_NCT03475563": [STALE],  # UNKNOWN (last known RECRUITING), verified 2019-11; observational
    "study_NCT03630471": [],  # COMPLETED, neither FDA flag set
    "study_NCT03934567": [],  # ACTIVE_NOT_RECRUITING, verified 2025-04; FDA flags false
    "study_NCT04207047": [
        RESULTS,
        STALE,
    ],  # FDA device, actual primary completion 2018-10-31; verified 2019-12
    "study_NCT05594173": [],  # observational with results
    "study_NCT06171568": [PAST, STALE, NOT_STARTED],  # NOT_YET_RECRUITING, start 2024-02, completion 2025-02
    "page_NCT00184067_NCT03934567_with_token[0]": [],
    "page_NCT00184067_NCT03934567_with_token[1]": [],
    "page_NCT04280705_full_results_466KB[0]": [],  # COMPLETED PHASE3 with results
    "page_NCT05147467_with_token[0]": [
        PAST,
        STALE,
    ],  # RECRUITING, primary completion 2024-09; verified 2024-01
    "page_NCT06388018_single_no_token[0]": [STALE],  # RECRUITING, verified 2024-07
    # Records fetched with fields=: no statusVerifiedDate, no date types, no oversight flags.
    "biomcp_get_nct02576665_20260811": [NO_REASON],  # TERMINATED; the capture's fields= left whyStopped out
    "biomcp_get_nct06382129_20260811": [],
    "biomcp_search_age_count_20260811[0]": [],
    "biomcp_search_keytruda_limit3_20260811[0]": [],  # RECRUITING, completion 2028-08
    "biomcp_search_keytruda_limit3_20260811[1]": [],
    "biomcp_search_keytruda_limit3_20260811[2]": [],
    "biomcp_search_melanoma_recruiting_limit3_20260811[0]": [],  # RECRUITING, completion 2026-12
    "biomcp_search_melanoma_recruiting_limit3_20260811[1]": [],
    "biomcp_search_melanoma_recruiting_limit3_20260811[2]": [],
    "biomcp_search_phelan_limit50_20260811[0]": [],
    "biomcp_search_phelan_limit50_20260811[1]": [],
    "biomcp_search_phelan_limit50_20260811[2]": [],
    "biomcp_search_phelan_limit5_20260811[0]": [],
    "biomcp_search_phelan_limit5_20260811[1]": [],
    "biomcp_search_phelan_limit5_20260811[2]": [],
    "biomcp_search_phelan_limit5_20260811[3]": [],
    "biomcp_search_phelan_limit5_20260811[4]": [NOT_STARTED],  # NOT_YET_RECRUITING since start 2025-09-01
    "biomcp_search_phelan_next_20260811[0]": [],
    "biomcp_search_phelan_next_20260811[1]": [],  # ENROLLING_BY_INVITATION, completion 2026-12-31
    "biomcp_search_phelan_next_20260811[2]": [],
    "biomcp_search_phelan_next_20260811[3]": [],
    "biomcp_search_phelan_next_20260811[4]": [],
    # The replay registry's versions of the two seed trials (PHASE1: never a results finding).
    "NCT02185781/v0": [PAST, STALE, NOT_STARTED],  # NOT_YET_RECRUITING, start 2014-09, verified 2014-07
    "NCT02185781/v1": [PAST, STALE],  # RECRUITING, primary completion 2016-09, verified 2015-01
    "NCT02185781/v2": [PAST, STALE],  # RECRUITING, primary completion 2020-12, verified 2018-02
    "NCT02185781/v3": [],  # RECRUITING, primary completion 2026-12-31, verified 2025-03
    "NCT02185781/v4": [],  # ACTIVE_NOT_RECRUITING, verified 2026-10
    "NCT02185781/v5": [],  # COMPLETED
    "NCT04327037/v0": [PAST, STALE],  # RECRUITING, primary completion 2021-12-31, verified 2020-03
    "NCT04327037/v1": [PAST, STALE],  # RECRUITING, primary completion 2023-12-31, verified 2022-01
    "NCT04327037/v2": [],  # RECRUITING, primary completion 2026-12-31, verified 2024-11
    "NCT04327037/v3": [],  # COMPLETED
}


def every_record() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "studies" in data:
            for index, study in enumerate(data["studies"]):
                found[f"{path.stem}[{index}]"] = study
        else:
            found[path.stem] = data
    for path in sorted(STUDIES.glob("*/v*.json")):
        found[f"{path.parent.name}/{path.stem}"] = json.loads(path.read_text(encoding="utf-8"))
    return found


RECORDS = every_record()


def test_every_record_has_an_expectation() -> None:
    assert sorted(RECORDS) == sorted(EXPECTED)


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_findings_on_a_real_record(label: str) -> None:
    found = evaluate(RECORDS[label], as_of=AS_OF)
    assert [f.code for f in found] == EXPECTED[label]
