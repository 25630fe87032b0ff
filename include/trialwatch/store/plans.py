"""The running sync's plan in the store: its planned ids in batches, one row per batch.

The plan task writes them and hands Airflow only small descriptors (run, batch, label, size); each
mapped fetch task loads its own batch here. Only the newest plan is kept: planning a run clears the
rows of earlier runs (the sync lease says no other run is still fetching).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from trialwatch.store.models import SyncPlanBatch


@dataclass(frozen=True)
class PlannedBatch:
    run_id: int
    batch: int
    label: str
    nct_ids: list[str]
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # nct_id -> older versions to backfill if the trial is new, where its watchlists ask for fewer than all.
    history_depths: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.nct_ids)


def clear_other_plans(session: Session, run_id: int) -> None:
    """Forget the batches of every run but ``run_id``."""
    session.execute(delete(SyncPlanBatch).where(SyncPlanBatch.run_id != run_id))


def save_batches(session: Session, batches: Sequence[PlannedBatch]) -> None:
    session.add_all(
        SyncPlanBatch(
            run_id=b.run_id,
            batch=b.batch,
            label=b.label,
            size=b.size,
            nct_ids=list(b.nct_ids),
            thresholds=dict(b.thresholds),
            history_depths=dict(b.history_depths),
        )
        for b in batches
    )


def load_batch(session: Session, run_id: int, batch: int) -> PlannedBatch:
    """One planned batch; LookupError if the store has no such batch (a newer plan replaced it)."""
    row = session.scalars(
        select(SyncPlanBatch).where(SyncPlanBatch.run_id == run_id, SyncPlanBatch.batch == batch)
    ).one_or_none()
    if row is None:
        raise LookupError(f"sync run {run_id} has no planned batch {batch} in the store")
    return PlannedBatch(
        run_id=row.run_id,
        batch=row.batch,
        label=row.label,
        nct_ids=list(row.nct_ids),
        thresholds=dict(row.thresholds or {}),
        history_depths=dict(row.history_depths or {}),
    )
