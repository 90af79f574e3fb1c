"""Runs the reconciler inside the API process, every `REGLAB_RECONCILE_SECONDS`."""

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta

from fastapi import FastAPI

from api.broker import get_broker, get_dispatcher
from api.deps import get_sessionmaker
from api.settings import get_settings
from models.services.reconciler import FAILURES, PASSES, RUNS_SENT, reconcile, record_passes
from models.store.tables import utcnow

log = logging.getLogger(__name__)
STALE_AFTER_INTERVALS = 3  # /health says degraded once the last good pass is this old


class Reconciler:
    """The API's reconciler, with counts of what it has done: this process's (for /health),
    and added to the deployment's totals in the store (for /metrics)."""

    def __init__(self) -> None:
        self.passes = 0
        self.runs_sent = 0
        self.last_pass_at: datetime | None = None
        self.started_at = utcnow()
        # Counts the store could not take yet (it was down): added with the next ones.
        self._unrecorded: Counter[str] = Counter()

    def run_once(self) -> int:
        """One pass: requeue or fail runs with lapsed leases, send what the broker lacks."""
        settings, broker, dispatcher = get_settings(), get_broker(), get_dispatcher()
        broker_lost = broker.marker_missing()
        sent = reconcile(
            get_sessionmaker(),
            dispatcher,
            max_attempts=settings.max_attempts,
            requeue_after=settings.requeue_after_seconds,
            broker_lost=broker_lost,
            unsent=dispatcher.unsent(),
        )
        if broker_lost:
            # Only now: a pass that dies before this point leaves the loss for the next
            # pass (of any API process) to see.
            broker.lay_marker()
        self.passes += 1
        self.runs_sent += sent
        self.last_pass_at = utcnow()
        self._tally({PASSES: 1, RUNS_SENT: sent})
        return sent

    def failed(self) -> None:
        """Count a pass that raised."""
        self._tally({FAILURES: 1})

    def _tally(self, counts: dict[str, int]) -> None:
        """Add `counts`, and any the store could not take before, to the deployment's totals."""
        self._unrecorded.update(counts)
        try:
            record_passes(get_sessionmaker(), self._unrecorded)
        except Exception:
            log.warning("reconciler: the store did not take its counts; kept for the next pass")
            return
        self._unrecorded.clear()

    def stale(self) -> bool:
        """Whether passes are due but none has succeeded for `STALE_AFTER_INTERVALS` intervals."""
        seconds = get_settings().reconcile_seconds
        if seconds <= 0:
            return False  # disabled: another process reconciles
        last_good = self.last_pass_at or self.started_at
        return utcnow() - last_good > timedelta(seconds=STALE_AFTER_INTERVALS * seconds)


# This process's reconciler; /health reports its passes.
RECONCILER = Reconciler()


async def _every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            sent = await asyncio.to_thread(RECONCILER.run_once)
        except Exception:
            log.exception("reconciler pass failed; trying again in %s s", seconds)
            await asyncio.to_thread(RECONCILER.failed)
            continue
        if sent:
            log.info("reconciler sent %s runs to their queues again", sent)


@asynccontextmanager
async def reconciler(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: the reconciler runs for as long as the API does (unless disabled)."""
    seconds = get_settings().reconcile_seconds
    RECONCILER.started_at = utcnow()  # staleness counts from serving, not from the import
    task = asyncio.create_task(_every(seconds)) if seconds > 0 else None
    yield
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
