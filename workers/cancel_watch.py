"""Notices a cancelled run: asks the store for its status, at most once per interval."""

import time
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.tables import RunStatus


class CancelWatch:
    """Callable asked between batches and after epochs; True once the run is not running.

    The API cancels a run by writing its status; the worker sees it here within
    `interval` seconds (plus one batch) and stops, keeping the epochs already stored.
    """

    def __init__(self, run_id: int, sessions: sessionmaker[Any], interval: float) -> None:
        self.run_id = run_id
        self.sessions = sessions
        self.interval = interval
        self._asked_at = time.monotonic()  # just claimed: no need to ask at once
        self._cancelled = False

    def __call__(self) -> bool:
        """Whether the run has been cancelled (or otherwise left `running`)."""
        now = time.monotonic()
        if self._cancelled or now - self._asked_at < self.interval:
            return self._cancelled
        self._asked_at = now
        with self.sessions() as session:
            status = store.run_status(session=session, run_id=self.run_id)
        self._cancelled = status != RunStatus.RUNNING
        return self._cancelled
