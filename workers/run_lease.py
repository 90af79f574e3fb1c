"""The worker's side of a run's lease: a thread renews it from the claim to the terminal write."""

import logging
import threading
from types import TracebackType
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store

log = logging.getLogger(__name__)


class RunLease:
    """Keeps a claimed run's lease alive from a daemon thread; `lost` once the run is not ours.

    Every `interval` seconds the thread renews the lease: a conditional update that fails
    once the API cancelled the run or the reconciler gave it to another worker. A thread, not
    the training loop, so that nothing the loop does (a framework import, a dataset load, a
    long batch on a loaded machine) lets the lease lapse while the process lives; if the
    process dies, the lease lapses after `lease_seconds` and the run is queued again.
    Used as a context manager: started on entry, stopped and joined on exit.
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
        self._lost = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease-run-{run_id}", daemon=True)

    @property
    def lost(self) -> bool:
        """Whether the run stopped being this worker's (cancelled, or handed to another)."""
        return self._lost.is_set()

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
            if not self.renew():
                self._lost.set()
                return

    def renew(self) -> bool:
        """Extend the lease once; False if the run is no longer this worker's to train."""
        try:
            with self.sessions.begin() as session:
                return store.renew_lease(
                    session=session,
                    run_id=self.run_id,
                    worker=self.worker,
                    lease_seconds=self.lease_seconds,
                )
        except OperationalError as exc:
            # The store is away: keep training; the next renewal tries again, and the
            # epoch writes wait for it to come back.
            log.warning("could not renew the lease of run %s (%s)", self.run_id, exc.orig)
        except Exception:
            # Any other failure, logged, must not end the thread: a lease nobody renews
            # lapses, and the run would be given to a second worker while this one trains.
            log.exception("could not renew the lease of run %s", self.run_id)
        return True
