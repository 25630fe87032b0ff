"""A replay registry on a loopback port per test, and a fake clock so waits are checked without waiting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from trialwatch.registry import CtgovClient
from trialwatch.replay.server import DEFAULT_DATA_DIR, ReplayRegistry, ReplayServer

ALIAS_ID = "NCT01234567"
ALIASED_STUDY = "NCT03418623"


class FakeTime:
    """Stands in for time.monotonic/time.sleep: sleeping advances the clock and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(replay: ReplayServer, fake_time: FakeTime) -> Iterator[CtgovClient]:
    with CtgovClient(
        replay.base_url, min_interval=0, sleep=fake_time.sleep, clock=fake_time.clock
    ) as instance:
        yield instance


@pytest.fixture(scope="session")
def alias_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-study registry whose record lists an old id in nctIdAliases (the real samples have none)."""
    root = tmp_path_factory.mktemp("alias-registry")
    study = json.loads((DEFAULT_DATA_DIR / "samples" / f"study_{ALIASED_STUDY}.json").read_text())
    study["protocolSection"]["identificationModule"]["nctIdAliases"] = [ALIAS_ID]
    (root / "study.json").write_text(json.dumps(study))
    timeline = {
        "days": [{"day": 1, "date": "2026-10-05", "dataTimestamp": "2026-10-05T09:00:04"}],
        "studies": {
            ALIASED_STUDY: {"versions": [{"version": 0, "date": "2020-10-08", "file": "study.json"}]}
        },
    }
    (root / "timeline.json").write_text(json.dumps(timeline))
    return root


@pytest.fixture
def alias_replay(alias_data_dir: Path) -> Iterator[ReplayServer]:
    with ReplayServer(ReplayRegistry(alias_data_dir)) as server:
        yield server
