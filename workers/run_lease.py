"""The worker's side of a run's lease: a thread renews it from the claim to the terminal write."""

import logging
import threading
import time
from types import TracebackType
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.db import is_outage

log = logging.getLogger(__name__)
# A training loop that shows no progress this long (ten leases, at least five minutes, which
# covers a framework import on a loaded machine) is taken as hung: the lease is let go, so
# the run is queued again rather than held "running" by a live but stuck process.
STALL_LEASES = 10
MIN_STALL_SECONDS = 300.0


class RunLease:
    """Keeps a claimed run's lease alive from a daemon thread; `lost` once the run is not ours.

    Every `interval` seconds the thread renews the lease: a conditional update that fails
    once the API cancelled the run or the reconciler gave it to another worker. A thread, not
    the training loop, so that nothing the loop does (a framework import, a dataset load, a
    long batch on a loaded machine) lets the lease lapse while the process lives; if the
    process dies, the lease lapses after `lease_seconds` and the run is queued again. The
    loop calls `touch()` as it makes progress; a loop silent for `stall_seconds` is hung, and
    the thread stops renewing. Used as a context manager: started on entry, stopped on exit.
    """

    def __init__(
        self,
        run_id: int,
        worker: str,
        sessions: sessionmaker[Any],
        *,
        interval: float,
        lease_seconds: float,
    ) -> None:
        self.run_id = run_id
        self.worker = worker
        self.sessions = sessions
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.stall_seconds = max(STALL_LEASES * lease_seconds, MIN_STALL_SECONDS)
        self._progress_at = self._renewed_at = time.monotonic()  # the claim set the lease
        self._lost = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease-run-{run_id}", daemon=True)

    @property
    def lost(self) -> bool:
        """Whether the run stopped being this worker's (cancelled, or handed to another)."""
        return self._lost.is_set()

    def touch(self) -> None:
        """Note that training made progress (a batch or an epoch)."""
        self._progress_at = time.monotonic()

    def __enter__(self) -> "RunLease":
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop renewing; wait for the thread at most a lease (a renewal hung longer is moot)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.lease_seconds)
        if self._thread.is_alive():
            log.warning("the lease thread of run %s is still in a renewal", self.run_id)

    def _keep(self) -> None:
        while not self._stopping.wait(self.interval):
            if time.monotonic() - self._progress_at > self.stall_seconds:
                log.error("run %s shows no progress; letting its lease lapse", self.run_id)
            elif self.renew():
                continue
            self._lost.set()
            return

    def renew(self) -> bool:
        """Extend the lease once; False if the run is no longer this worker's to train."""
        try:
            with self.sessions.begin() as session:
                held = store.renew_lease(
                    session=session,
                    run_id=self.run_id,
                    worker=self.worker,
                    lease_seconds=self.lease_seconds,
                )
        except OperationalError as exc:
            if not is_outage(exc):
                return self._failed()
            # The store is away: keep training; the renewal after it returns tells whether
            # the run is still ours, and the epoch writes wait for it.
            log.warning("could not renew the lease of run %s (%s)", self.run_id, exc.orig)
            return True
        except Exception:
            return self._failed()
        self._renewed_at = time.monotonic()
        return held

    def _failed(self) -> bool:
        """A renewal that broke (a bug, not an outage): the run is lost once the lease is."""
        log.exception("could not renew the lease of run %s", self.run_id)
        # Past a lease without renewal the reconciler may give the run to another worker:
        # stop rather than train it twice.
        return time.monotonic() - self._renewed_at < self.lease_seconds
