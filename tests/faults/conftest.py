"""A fault registry per test and a client whose limits are small, so every fault ends in a second or two."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from trialwatch.registry import CtgovClient

from .fault_registry import FaultRegistry

# Small limits: a regression fails at these instead of hanging the suite.
LIMITS = {
    "min_interval": 0,
    "timeout": 5.0,  # per socket read: longer than the request deadline on purpose
    "request_timeout": 1.5,
    "max_retries": 2,
    "backoff_base": 0,
    "max_record_bytes": 1_000_000,
    "max_page_bytes": 4_000_000,
    "max_pages": 5,
}


class FakeTime:
    """time.monotonic/time.sleep for politeness and backoff: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def faults() -> Iterator[FaultRegistry]:
    with FaultRegistry() as server:
        yield server


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(faults: FaultRegistry, fake_time: FakeTime) -> Iterator[Callable[..., CtgovClient]]:
    made: list[CtgovClient] = []

    def make(**overrides: object) -> CtgovClient:
        options = {**LIMITS, "sleep": fake_time.sleep, "clock": fake_time.clock, **overrides}
        client = CtgovClient(faults.base_url, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., CtgovClient]) -> CtgovClient:
    return make_client()
