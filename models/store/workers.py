"""Worker queries: a worker registers when it is ready, beats while it lives, leaves on a stop."""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models.store.tables import Worker, utcnow
from models.store.upsert import upsert

# A worker killed without a clean stop leaves its row behind, no longer live; the next worker
# to register removes rows silent this long, so that they do not pile up.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class WorkerRecord:
    """What a worker's main process tells the store about itself."""

    host: str
    pid: int
    queues: list[str]
    backends: list[str]
    cuda: bool
    concurrency: int
    started_at: datetime

    @property
    def name(self) -> str:
        """`host:pid`, the worker's key."""
        return f"{self.host}:{self.pid}"


def register_worker(*, session: Session, worker: WorkerRecord, live_seconds: float) -> None:
    """Record `worker` as live for `live_seconds` (again, if its row is there already)."""
    now = utcnow()
    session.execute(delete(Worker).where(Worker.expires_at < now - FORGET_AFTER))
    row = {
        "name": worker.name,
        **asdict(worker),
        "last_seen_at": now,
        "expires_at": now + timedelta(seconds=live_seconds),
    }
    upsert(session=session, table=Worker, rows=[row], keys=["name"])


def worker_seen(*, session: Session, name: str, live_seconds: float) -> bool:
    """Renew a worker's liveness in one UPDATE; False if it has no row (register it again)."""
    now = utcnow()
    result = session.execute(
        update(Worker)
        .where(Worker.name == name)
        .values(last_seen_at=now, expires_at=now + timedelta(seconds=live_seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def remove_worker(*, session: Session, name: str) -> None:
    """Forget a worker that stops cleanly."""
    session.execute(delete(Worker).where(Worker.name == name))


def live_workers(*, session: Session, now: datetime) -> list[Worker]:
    """Workers whose last beat is recent enough, by host and pid."""
    query = select(Worker).where(Worker.expires_at > now).order_by(Worker.host, Worker.pid)
    return list(session.scalars(query))


def live_queues(*, session: Session, now: datetime) -> set[str]:
    """Every queue some live worker consumes (one query)."""
    served = session.scalars(select(Worker.queues).where(Worker.expires_at > now))
    return {queue for queues in served for queue in queues}
