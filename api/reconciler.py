"""Runs the reconciler inside the API process, every `REGLAB_RECONCILE_SECONDS`."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from api.deps import get_sessionmaker
from api.enqueue import enqueue_run
from api.settings import get_settings
from models.reconcile import reconcile

log = logging.getLogger(__name__)


def reconcile_once() -> int:
    """One pass: requeue or fail runs with lapsed leases, resend long-queued runs."""
    settings = get_settings()
    runs = reconcile(
        get_sessionmaker(),
        max_attempts=settings.max_attempts,
        requeue_after=settings.requeue_after_seconds,
    )
    for run in runs:
        enqueue_run(run.id, run.backend, run.spec["device"])
    return len(runs)


async def _every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            sent = await asyncio.to_thread(reconcile_once)
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
