"""The worker's side of a run's lease: renew it while training, and notice a cancel."""

import time
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store


class RunLease:
    """Callable asked between batches and after epochs; True once the run is not ours to train.

    At most every `interval` seconds it renews the lease (a conditional update that also
    fails when the API cancelled the run, or the reconciler gave it to another worker).
    While it renews, the reconciler leaves the run alone; if this process dies, the lease
    lapses after `lease_seconds` and the run is queued again.
    """

    def __init__(
        self,
        run_id: int,
        worker: str,
        sessions: sessionmaker[Any],
        interval: float,
        lease_seconds: float,
    ) -> None:
        self.run_id = run_id
        self.worker = worker
        self.sessions = sessions
        self.interval = interval
        self.lease_seconds = lease_seconds
        self._renewed_at = time.monotonic()  # the claim just set the lease
        self._lost = False

    def __call__(self) -> bool:
        """Whether training must stop (cancelled, or the run went to another worker)."""
        now = time.monotonic()
        if self._lost or now - self._renewed_at < self.interval:
            return self._lost
        self._renewed_at = now
        try:
            with self.sessions.begin() as session:
                held = store.renew_lease(
                    session=session,
                    run_id=self.run_id,
                    worker=self.worker,
                    lease_seconds=self.lease_seconds,
                )
        except OperationalError:
            # The store is away: keep training; the next renewal tries again, and the
            # epoch writes wait for it to come back.
            return False
        self._lost = not held
        return self._lost
