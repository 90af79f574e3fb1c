"""Celery tasks: they carry run ids only; everything else is read from the database."""

import logging
import os
import socket
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store
from models.db import make_engine, make_sessionmaker
from models.queue import TRAIN_RUN_TASK, send_run
from models.tables import Run
from workers.celery_app import app
from workers.checkpoints import OrphanSweep
from workers.execution import RunPolicy, execute_run
from workers.settings import get_settings

log = logging.getLogger(__name__)
ORPHAN_SWEEP_SECONDS = 600.0  # how often a worker child clears checkpoints of ended runs


@lru_cache
def _sessions() -> sessionmaker[Any]:
    # Created lazily in the child process, so no connection crosses a fork.
    return make_sessionmaker(make_engine(get_settings().resolved_database_url()))


@lru_cache
def _orphan_sweep() -> OrphanSweep | None:
    root = get_settings().resolved_checkpoint_dir()
    return OrphanSweep(root, every=ORPHAN_SWEEP_SECONDS) if root else None


def _ended_runs(run_ids: set[int]) -> set[int]:
    with _sessions()() as session:
        return store.ended_runs(session=session, run_ids=run_ids)


def _enqueue(run: Run) -> None:
    """Hand a search's next run to its queue; if the broker refuses, the run stays queued."""
    try:
        send_run(app, run.id, run.backend, run.spec["device"])
    except Exception:
        log.exception("could not enqueue run %s; it stays queued", run.id)


# A store away for longer than the worker's own write retries would end the task with its
# message acked and the run still queued; Celery's retry sends the message again instead.
@app.task(  # type: ignore[untyped-decorator]
    name=TRAIN_RUN_TASK,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=None,
)
def train_run(run_id: int) -> str:
    """Claim the run, train it and record its curves and outcome; returns the final status."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    settings = get_settings()
    status = execute_run(
        run_id,
        sessions=_sessions(),
        threads=settings.thread_budget(),
        worker=worker,
        policy=RunPolicy.of(settings),
        enqueue=_enqueue,
    )
    sweep = _orphan_sweep()
    if sweep is not None:
        sweep.maybe_run(_ended_runs)
    return status
