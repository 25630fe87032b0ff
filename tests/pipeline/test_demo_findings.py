"""The demo's replay data: day 2 opens a real finding on a watched seed trial."""

from __future__ import annotations

from sqlalchemy import select
from trialwatch.pipeline import run_sync
from trialwatch.registry.client import CtgovClient
from trialwatch.replay.server import ReplayServer
from trialwatch.store import Store
from trialwatch.store.models import FindingRow
from trialwatch.watchlists import load_watchlists


def test_day_two_opens_the_enrollment_shortfall_of_nct04327037(store: Store, replay: ReplayServer) -> None:
    client = CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)
    watchlists = load_watchlists().watchlists
    run_sync(store, client, watchlists)
    with store.session() as session:
        assert list(session.scalars(select(FindingRow))) == []  # day 1: every watched record is fine
    replay.set_day(2)
    day2 = run_sync(store, client, watchlists)
    with store.session() as session:
        rows = list(session.scalars(select(FindingRow)))
    # Anticipated 24 (ESTIMATED, day 1), completed with 10 ACTUAL: below half of the plan.
    assert [(r.key, r.severity, r.opened_run_id) for r in rows] == [
        ("NCT04327037/enrollment_shortfall", "major", day2.run_id)
    ]
    assert rows[0].evidence["anticipated"] == 24
    assert rows[0].evidence["actual"] == 10
