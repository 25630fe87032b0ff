"""One recorded registry per session, a fresh server (day 1, no faults, empty request log) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from trialwatch.replay.server import ReplayRegistry, ReplayServer


@pytest.fixture(scope="session")
def replay_registry() -> ReplayRegistry:
    return ReplayRegistry()


@pytest.fixture
def replay(replay_registry: ReplayRegistry) -> Iterator[ReplayServer]:
    with ReplayServer(replay_registry, day=1) as server:
        yield server
