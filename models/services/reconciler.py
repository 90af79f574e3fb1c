"""The reconciler: the database is the truth, so what a queue or a worker lost is found here.

One pass requeues (or fails) runs whose worker stopped renewing its lease, sends again what
the broker lacks, and restarts searches whose continuation was lost. A broken object is
logged and skipped: it never keeps the pass from handling every other one.
"""

import logging
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.messaging.dispatcher import Dispatcher
from models.services.searches import top_up
from models.store.counters import add_counts
from models.store.tables import Run, utcnow

log = logging.getLogger(__name__)
# The deployment's totals (models.store.counters): every process running passes adds to them.
PASSES, FAILURES, RUNS_SENT = "reconciler_passes", "reconciler_failures", "reconciler_runs_sent"


def _restart_stalled_searches(sessions: sessionmaker[Any]) -> list[Run]:
    """The next runs of every search with nothing in flight; a broken one is skipped."""
    with sessions() as session:
        stalled = store.stalled_searches(session=session)
    started: list[Run] = []
    for experiment_id in stalled:
        try:
            started += top_up(sessions, experiment_id)
        except Exception:
            log.exception("reconciler: cannot continue the search of experiment %s", experiment_id)
    return started


def reconcile(
    sessions: sessionmaker[Any],
    dispatcher: Dispatcher,
    *,
    max_attempts: int,
    requeue_after: float,
    broker_lost: bool = False,
    unsent: Collection[int] = (),
) -> int:
    """One pass; returns how many runs it sent to the broker.

    Sent: runs whose worker died (lapsed lease), runs of stalled searches, runs whose send
    failed (`unsent`), every queued run if the broker lost its messages, and, as a last
    resort for losses nobody saw, runs queued longer than `requeue_after` seconds. Runs out
    of attempts fail `worker_lost`.
    """
    now = utcnow()
    sent_before = now if broker_lost else now - timedelta(seconds=requeue_after)
    with sessions.begin() as session:
        requeued = store.expire_leases(session=session, now=now, max_attempts=max_attempts)
        resend = store.resend_queued(session=session, now=now, sent_before=sent_before, ids=unsent)
    runs = requeued + resend + _restart_stalled_searches(sessions)
    dispatcher.forget(set(unsent) - {run.id for run in runs})  # not queued any more
    return dispatcher.send(runs)


def record_passes(sessions: sessionmaker[Any], counts: Mapping[str, int]) -> None:
    """Add a process's passes, failed passes and runs sent (counts by PASSES, FAILURES and
    RUNS_SENT) to the deployment's totals."""
    with sessions.begin() as session:
        add_counts(session=session, counts=counts, now=utcnow())
