"""What a monitoring scrape asks of the store: a few grouped counts over every project."""

import math
from collections import Counter
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from models.store.tables import Metric, Run, RunStatus, Worker


def runs_by_status(*, session: Session) -> dict[str, int]:
    """How many runs each status holds (statuses no run holds: absent)."""
    query = select(Run.status, func.count()).group_by(Run.status)
    return {status: count for status, count in session.execute(query)}


def queued_runs_by_target(*, session: Session) -> dict[tuple[str, str], int]:
    """Queued runs by (backend, spec device): what names the queue each one waits in."""
    device = Run.spec["device"].as_string()
    query = (
        select(Run.backend, device, func.count())
        .where(Run.status == RunStatus.QUEUED)
        .group_by(Run.backend, device)
    )
    return {(backend, dev): count for backend, dev, count in session.execute(query)}


def live_workers_by_backend(*, session: Session, now: datetime) -> dict[tuple[str, bool], int]:
    """Live workers by (backend, has CUDA); a worker serving two backends counts for each."""
    query = select(Worker.backends, Worker.cuda).where(Worker.expires_at > now)
    counts: Counter[tuple[str, bool]] = Counter()
    for backends, cuda in session.execute(query):
        counts.update((backend, cuda) for backend in backends)
    return dict(counts)


def epochs_per_second(*, session: Session) -> float:
    """Sum over running runs of 1 / the seconds their latest epoch took (`epoch_seconds`)."""
    latest = and_(
        Metric.run_id == Run.id, Metric.name == "epoch_seconds", Metric.epoch == Run.epochs_done
    )
    query = select(Metric.value).join(Run, latest).where(Run.status == RunStatus.RUNNING)
    seconds = session.scalars(query)
    return sum(1 / s for s in seconds if s > 0 and math.isfinite(s))
