"""Commits each epoch's metrics as training produces them, coalescing very fast epochs."""

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.store.db import with_retries


class EpochRecorder:
    """Per-epoch callback that writes metrics in order, at most one commit per `interval`.

    Epochs that end within `interval` seconds of the last commit (or of the claim) wait for
    the next one: a 40 ms epoch would otherwise spend several percent of its time committing,
    and a run shorter than `interval` commits once, with its end. No epoch waits longer than
    `interval`. `flush` writes whatever is pending.
    """

    def __init__(
        self,
        run_id: int,
        sessions: sessionmaker[Any],
        interval: float,
        retry_seconds: float = 0.0,
    ) -> None:
        self.run_id = run_id
        self.sessions = sessions
        self.interval = interval
        self.retry_seconds = retry_seconds
        self.last_epoch = 0
        self.last_values: dict[str, float] = {}
        self._pending: dict[int, dict[str, float]] = {}
        self._last_commit = time.monotonic()

    def __call__(self, epoch: int, values: Mapping[str, float]) -> None:
        """Record one finished epoch; commit if the interval has passed."""
        self._pending[epoch] = self.last_values = dict(values)
        self.last_epoch = epoch
        if time.monotonic() - self._last_commit >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Commit every pending epoch in one transaction, retried while the store is away."""
        if not self._pending:
            return
        with_retries(self._write, seconds=self.retry_seconds)
        self._pending = {}
        self._last_commit = time.monotonic()

    def take_pending(self) -> dict[int, dict[str, float]]:
        """The epochs not yet committed, handed to a caller that writes them (the run's end)."""
        pending, self._pending = self._pending, {}
        return pending

    def _write(self) -> None:
        # An upsert: repeating it after a commit whose answer was lost changes nothing.
        with self.sessions.begin() as session:
            store.record_epochs(session=session, run_id=self.run_id, epochs=self._pending)
