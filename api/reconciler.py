"""Runs the reconciler inside the API process, every `REGLAB_RECONCILE_SECONDS`."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime

from fastapi import FastAPI

from api.deps import get_sessionmaker
from api.enqueue import enqueue_run, forget_unsent, lay_marker, marker_missing, unsent_runs
from api.settings import get_settings
from models.reconcile import reconcile
from models.tables import utcnow

log = logging.getLogger(__name__)


class Reconciler:
    """The API's reconciler, with counts of what it has done."""

    def __init__(self) -> None:
        self.passes = 0
        self.runs_sent = 0
        self.last_pass_at: datetime | None = None

    def run_once(self) -> int:
        """One pass: requeue or fail runs with lapsed leases, send what the broker lacks."""
        settings = get_settings()
        broker_lost, unsent = marker_missing(), unsent_runs()
        runs = reconcile(
            get_sessionmaker(),
            max_attempts=settings.max_attempts,
            requeue_after=settings.requeue_after_seconds,
            broker_lost=broker_lost,
            unsent=unsent,
        )
        forget_unsent(unsent - {run.id for run in runs})  # not queued any more
        for run in runs:
            enqueue_run(run.id, run.backend, run.spec["device"])
        if broker_lost:
            # Only now: a pass that dies before this point leaves the loss for the next
            # pass (of any API process) to see.
            lay_marker()
        self.passes += 1
        self.runs_sent += len(runs)
        self.last_pass_at = utcnow()
        return len(runs)


# This process's reconciler; /health reports its passes.
RECONCILER = Reconciler()


async def _every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            sent = await asyncio.to_thread(RECONCILER.run_once)
        except Exception:
            log.exception("reconciler pass failed; trying again in %s s", seconds)
            continue
        if sent:
            log.info("reconciler sent %s runs to their queues again", sent)


@asynccontextmanager
async def reconciler(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: the reconciler runs for as long as the API does (unless disabled)."""
    seconds = get_settings().reconcile_seconds
    task = asyncio.create_task(_every(seconds)) if seconds > 0 else None
    yield
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
