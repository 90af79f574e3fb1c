"""The reconciler: the database is the truth, so what a queue or a worker lost is found here."""

from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.sweeps import top_up
from models.tables import Run, utcnow


def reconcile(sessions: sessionmaker[Any], *, max_attempts: int, requeue_after: float) -> list[Run]:
    """Queue again the runs whose worker died, fail those out of attempts, restart stalled
    searches, and return the runs to send to the broker."""
    now = utcnow()
    with sessions.begin() as session:
        requeued = store.expire_leases(session=session, now=now, max_attempts=max_attempts)
        stale = store.stale_queued(session=session, now=now, older_than=requeue_after)
        stalled = store.stalled_searches(session=session)
    started = [run for experiment_id in stalled for run in top_up(sessions, experiment_id)]
    return requeued + stale + started
