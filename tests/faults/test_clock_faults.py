"""The opt-in clock shift (TRIALWATCH_TEST_CLOCK_SHIFT_DAYS) that proves no test depends on today's date."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import CLOCK_SHIFT_ENV

REPO = Path(__file__).resolve().parents[2]


def test_the_shift_moves_this_process_and_not_its_subprocesses() -> None:
    days = int(os.environ.get(CLOCK_SHIFT_ENV, "").strip() or 0)
    real = int(subprocess.run(["date", "+%s"], capture_output=True, text=True, check=True).stdout)
    offset = time.time() - real
    # Whatever the shift (none in a plain run), the offset is that many days, give or take an hour.
    assert abs(offset - days * 86400) < 3600, offset


def test_a_pinned_clock_still_wins(time_machine) -> None:  # type: ignore[no-untyped-def]
    pinned = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    time_machine.move_to(pinned, tick=False)
    assert datetime.now(UTC) == pinned
    assert time.time() == pinned.timestamp()


def test_a_shift_that_is_not_a_number_stops_the_session_with_its_name() -> None:
    env = {**os.environ, CLOCK_SHIFT_ENV: "a year"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", __file__],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"{CLOCK_SHIFT_ENV} must be a whole number of days, got 'a year'" in result.stderr
