"""The one way runs reach the broker, for the API and the workers alike."""

import logging
import threading
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Protocol

from models.messaging.queue import TaskSender, send_run

log = logging.getLogger(__name__)


class QueuedRun(Protocol):
    """What sending needs of a committed, queued run."""

    @property
    def id(self) -> int: ...

    @property
    def backend(self) -> str: ...

    @property
    def spec(self) -> Mapping[str, Any]: ...


class Dispatcher:
    """Sends committed runs to their queues and remembers those the broker refused.

    A refused send is logged and kept: the run stays queued in the database, and the
    reconciler sends it again (it asks `unsent()`).
    """

    def __init__(self, sender: TaskSender) -> None:
        self.sender = sender
        self._unsent: set[int] = set()
        self._lock = threading.Lock()

    def send(self, runs: Iterable[QueuedRun]) -> int:
        """Send each run to its queue; returns how many the broker took."""
        sent = 0
        for run in runs:
            sent += self._send_one(run)
        return sent

    def _send_one(self, run: QueuedRun) -> bool:
        try:
            send_run(self.sender, run.id, run.backend, run.spec["device"])
        except Exception:
            log.exception("could not send run %s to its queue; it stays queued", run.id)
            with self._lock:
                self._unsent.add(run.id)
            return False
        with self._lock:
            self._unsent.discard(run.id)
        return True

    def withdraw(self, run_ids: Collection[int]) -> int:
        """Take the queued messages of these runs (cancelled) out of the broker."""
        self.forget(run_ids)
        return self.sender.withdraw(run_ids)

    def unsent(self) -> set[int]:
        """Runs this process failed to send and has not sent since."""
        with self._lock:
            return set(self._unsent)

    def forget(self, run_ids: Iterable[int]) -> None:
        """Stop tracking runs that are no longer queued (sent by another path, or cancelled)."""
        with self._lock:
            self._unsent.difference_update(run_ids)
