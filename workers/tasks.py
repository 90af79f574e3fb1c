"""Celery tasks: they carry run ids only; everything else is read from the database."""

import logging
import os
import socket
from functools import lru_cache
from typing import Any

from celery import Task
from celery.exceptions import Reject
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store
from models.blobs import blob_store
from models.messaging.broker import Broker
from models.messaging.dispatcher import Dispatcher
from models.messaging.queue import TRAIN_RUN_TASK
from models.store.db import is_outage, make_engine, make_sessionmaker
from models.store.tables import RunStatus
from workers import shutdown
from workers.celery_app import app
from workers.checkpoints import OrphanSweep
from workers.execution import RunPolicy, execute_run
from workers.settings import get_settings

log = logging.getLogger(__name__)
ORPHAN_SWEEP_SECONDS = 600.0  # how often a worker child clears checkpoints of ended runs
RETRY_MAX_SECONDS = 300  # longest wait between redeliveries while the store is away


@lru_cache
def _sessions() -> sessionmaker[Any]:
    # Created lazily in the child process, so no connection crosses a fork.
    return make_sessionmaker(make_engine(get_settings().resolved_database_url()))


@lru_cache
def _orphan_sweep() -> OrphanSweep | None:
    settings = get_settings()
    if not settings.checkpoint_every_epochs:
        return None
    return OrphanSweep(blob_store(settings), every=ORPHAN_SWEEP_SECONDS)


def _ended_runs(run_ids: set[int]) -> set[int]:
    with _sessions()() as session:
        return store.ended_runs(session=session, run_ids=run_ids)


@lru_cache
def _dispatcher() -> Dispatcher:
    # A run the broker refuses here stays queued; the API's reconciler cannot see this
    # process's failed sends, so it sends it again after REGLAB_REQUEUE_AFTER_SECONDS.
    return Dispatcher(Broker(get_settings(), "reglab-worker"))


@app.task(name=TRAIN_RUN_TASK, bind=True)  # type: ignore[untyped-decorator]
def train_run(self: Task, run_id: int) -> str:
    """Claim the run, train it and record its curves and outcome; returns the final status."""
    if shutdown.requested():  # taken as this worker stops: untouched, for the next worker
        raise Reject("the worker is stopping", requeue=True)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    settings = get_settings()
    try:
        status = execute_run(
            run_id,
            sessions=_sessions(),
            threads=settings.thread_budget(),
            worker=worker,
            policy=RunPolicy.of(settings),
            dispatcher=_dispatcher(),
        )
    except OperationalError as exc:
        if not is_outage(exc):
            raise
        # The store stayed away past the worker's own retries. Acked, this message would be
        # lost with the run still queued; Celery sends it again instead (a run another worker
        # took meanwhile is skipped by the claim).
        countdown = min(RETRY_MAX_SECONDS, 5 * 2**self.request.retries)
        raise self.retry(exc=exc, countdown=countdown, max_retries=None) from exc
    if status == RunStatus.QUEUED:  # handed back as this worker stops: the message goes back
        raise Reject("the worker stopped; the run resumes from its checkpoint", requeue=True)
    sweep = _orphan_sweep()
    if sweep is not None:
        sweep.maybe_run(_ended_runs)
    return status
