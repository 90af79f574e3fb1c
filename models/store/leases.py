"""Leases on running runs, and what the reconciler does when they lapse."""

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models.store.tables import Run, RunStatus, utcnow

WORKER_LOST = "worker_lost"


def renew_lease(*, session: Session, run_id: int, worker: str, lease_seconds: float) -> bool:
    """Extend the lease of `worker`'s running run; False if the run is no longer its to train."""
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.worker == worker)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_run(*, session: Session, run_id: int, worker: str) -> bool:
    """Hand `worker`'s running run back to the queue (its worker is stopping), attempt unspent.

    False, writing nothing, if the run is no longer running or no longer `worker`'s.
    """
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.worker == worker)
        .values(
            status=RunStatus.QUEUED,
            worker=None,
            queued_at=utcnow(),
            lease_expires_at=None,
            # A stop is no lost worker: the next claim counts this attempt again.
            attempts=Run.attempts - 1,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def expire_leases(*, session: Session, now: datetime, max_attempts: int) -> list[Run]:
    """Runs whose worker stopped renewing: queue them again, or fail them after max_attempts.

    Returns the runs queued again (the caller enqueues them after committing).
    """
    lapsed = list(
        session.scalars(
            select(Run)
            .where(Run.status == RunStatus.RUNNING, Run.lease_expires_at < now)
            .with_for_update(skip_locked=True)
        )
    )
    requeued = []
    for run in lapsed:
        if run.attempts >= max_attempts:
            run.status = RunStatus.FAILED
            run.finished_at = now
            run.error_type = WORKER_LOST
            run.error_message = (
                f"its worker stopped responding {run.attempts} times (last: {run.worker}); "
                f"max_attempts is {max_attempts}"
            )
            run.error_epoch = run.epochs_done + 1
        else:
            run.status, run.worker, run.queued_at = RunStatus.QUEUED, None, now
            requeued.append(run)
        run.lease_expires_at = None
    session.flush()
    return requeued


def resend_queued(
    *, session: Session, now: datetime, sent_before: datetime, ids: Collection[int] = ()
) -> list[Run]:
    """Queued runs last sent before `sent_before`, or named in `ids`, stamped as sent now."""
    last_sent_long_ago = Run.queued_at < sent_before
    stale = list(
        session.scalars(
            select(Run)
            .where(
                Run.status == RunStatus.QUEUED,
                or_(last_sent_long_ago, Run.id.in_(ids)) if ids else last_sent_long_ago,
            )
            .with_for_update(skip_locked=True)
        )
    )
    for run in stale:
        run.queued_at = now
    session.flush()
    return stale
