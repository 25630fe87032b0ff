"""The sync lease: one row that names the sync run allowed to write, until it expires.

A lease row rather than a database lock, because one sync run spans several processes (the DAG's
plan, its mapped batches and finish run as separate tasks): the run takes the lease once, every batch
checks that its run still holds it and extends it, and finish gives it back. A run whose processes
died leaves the lease to expire. It works the same on SQLite (writers serialise on ``BEGIN
IMMEDIATE``) and PostgreSQL (the row is locked with ``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trialwatch.store.models import SyncLease

SYNC = "sync"
# The history backfill takes the same lease (its holder starts with this), so it never writes while
# a sync does and the registry never sees both at once.
BACKFILL_HOLDER = "backfill-"
# Long enough for one batch of slow registry answers; every batch extends it.
DEFAULT_TTL = timedelta(minutes=30)


class LeaseLost(RuntimeError):
    """This run no longer holds the sync lease (it expired and another sync took it)."""


@dataclass(frozen=True)
class Holder:
    holder: str
    run_id: int | None
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        if self.run_id is not None:
            run = f"sync run {self.run_id}"
        else:
            run = "the history backfill" if self.holder.startswith(BACKFILL_HOLDER) else "another sync"
        return f"{run} holds the store's sync lease (since {_utc(self.acquired_at)}, until {_utc(self.expires_at)})"


def _utc(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite returns naive datetimes
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _locked_row(session: Session) -> SyncLease | None:
    return session.scalars(select(SyncLease).where(SyncLease.name == SYNC).with_for_update()).one_or_none()


def acquire(session: Session, holder: str, *, now: datetime, ttl: timedelta = DEFAULT_TTL) -> Holder | None:
    """Take the lease for ``holder``. None on success, else who holds it."""
    row = _locked_row(session)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SyncLease(name=SYNC, holder=holder, acquired_at=now, expires_at=now + ttl))
            return None
        except IntegrityError:  # another sync inserted the row first (PostgreSQL)
            row = _locked_row(session)
            assert row is not None
    if row.holder != holder and _aware(row.expires_at) > now:
        return Holder(row.holder, row.run_id, _aware(row.acquired_at), _aware(row.expires_at))
    row.holder, row.run_id, row.acquired_at, row.expires_at = holder, None, now, now + ttl
    return None


def bind_run(session: Session, holder: str, run_id: int) -> None:
    """Name the sync run that holds the lease (shown to a sync that finds it taken)."""
    row = _locked_row(session)
    if row is None or row.holder != holder:
        raise LeaseLost(f"sync run {run_id} lost the store's sync lease before it started")
    row.run_id = run_id


def extend(
    session: Session, holder: str, run_id: int, *, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> None:
    """Check that ``holder`` still holds the lease and push its expiry out; LeaseLost otherwise."""
    row = _locked_row(session)
    if row is None or row.holder != holder:
        taken = (
            f"; {Holder(row.holder, row.run_id, row.acquired_at, row.expires_at).describe()}" if row else ""
        )
        raise LeaseLost(f"sync run {run_id} no longer holds the store's sync lease{taken}")
    row.expires_at = max(_aware(row.expires_at), now + ttl)


def holder_of(session: Session, run_id: int) -> str | None:
    """Who holds the lease for ``run_id``, or None when the lease is no longer bound to that run."""
    return session.scalar(select(SyncLease.holder).where(SyncLease.name == SYNC, SyncLease.run_id == run_id))


def release(session: Session, holder: str) -> None:
    """Give the lease back (nothing happens if ``holder`` does not hold it)."""
    session.execute(delete(SyncLease).where(SyncLease.name == SYNC, SyncLease.holder == holder))
