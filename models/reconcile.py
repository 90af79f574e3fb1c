"""The reconciler: the database is the truth, so what a queue or a worker lost is found here."""

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.sweeps import top_up
from models.tables import Run, utcnow


def reconcile(
    sessions: sessionmaker[Any],
    *,
    max_attempts: int,
    requeue_after: float,
    broker_lost: bool = False,
    unsent: Collection[int] = (),
) -> list[Run]:
    """Find every run that needs sending to the broker, and fail those out of attempts.

    That is: runs whose worker died (lapsed lease), runs of stalled searches, runs whose
    send failed (`unsent`), every queued run if the broker lost its messages, and, as a
    last resort for losses nobody saw, runs queued longer than `requeue_after` seconds.
    """
    now = utcnow()
    sent_before = now if broker_lost else now - timedelta(seconds=requeue_after)
    with sessions.begin() as session:
        requeued = store.expire_leases(session=session, now=now, max_attempts=max_attempts)
        resend = store.resend_queued(session=session, now=now, sent_before=sent_before, ids=unsent)
        stalled = store.stalled_searches(session=session)
    started = [run for experiment_id in stalled for run in top_up(sessions, experiment_id)]
    return requeued + resend + started
