"""The broker as a process that only sends sees it (the API), and the watch over it.

The marker is a queue no worker consumes, holding one message: if it is gone, so is every
queued run's message (a Redis restarted without persistence, a flush), and the reconciler
sends every queued run again.
"""

import logging
from collections.abc import Collection
from typing import Any

from celery import Celery
from kombu import Exchange, Queue  # type: ignore[attr-defined]
from kombu.transport import redis as kombu_redis

from models.messaging import withdraw
from models.messaging.queue import ALL_QUEUES
from models.settings import Settings

log = logging.getLogger(__name__)
MARKER_QUEUE = "reglab.marker"


def _marker() -> Queue:
    exchange = Exchange(MARKER_QUEUE, type="direct")  # type: ignore[no-untyped-call]
    return Queue(MARKER_QUEUE, exchange, routing_key=MARKER_QUEUE)  # type: ignore[no-untyped-call]


class Broker:
    """A send-only link to the configured broker (it runs no task), and a watch over it."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.client = Celery(name, broker=settings.resolved_broker_url(), set_as_current=False)
        self.client.conf.broker_transport = settings.broker_transport()
        self.client.conf.broker_transport_options = settings.broker_transport_options()
        self.client.conf.broker_connection_timeout = 3
        self.folder = settings.embedded_broker_folder()

    def send_task(self, name: str, *, args: list[Any], queue: str, retry: bool) -> object:
        """Publish one task message by name."""
        return self.client.send_task(name, args=args, queue=queue, retry=retry)

    def marker_missing(self) -> bool:
        """Whether the broker answers but holds no marker: it lost its messages (or never had
        one). False when the broker cannot be reached, since nothing can be told then."""
        try:
            with self.client.connection_for_write() as conn:
                _, held, _ = _marker()(conn.default_channel).queue_declare()  # type: ignore[no-untyped-call]
        except Exception:
            log.warning("broker unreachable; queued runs are checked again later", exc_info=True)
            return False
        return not held

    def lay_marker(self) -> None:
        """Put the marker in place, once every queued run has been sent again."""
        try:
            with self.client.connection_for_write() as conn:
                marker = _marker()
                conn.Producer().publish({}, routing_key=MARKER_QUEUE, declare=[marker], retry=False)
        except Exception:
            log.warning("could not lay the broker marker; the next pass tries again", exc_info=True)

    def reachable(self) -> bool:
        """Whether the broker accepts a connection within a second."""
        try:
            with self.client.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=1)
        except Exception:
            return False
        return True

    def withdraw(self, run_ids: Collection[int]) -> int:
        """Remove the queued messages of `run_ids` (cancelled runs); how many went. Best
        effort: where it cannot (a broker away, another transport), workers skip them."""
        if not run_ids:
            return 0
        try:
            if self.folder is not None:
                return withdraw.from_folder(self.folder, run_ids)
            with self.client.connection_for_write() as conn:
                channel = conn.default_channel
                if isinstance(channel, kombu_redis.Channel):
                    return withdraw.from_redis(channel, ALL_QUEUES, run_ids)
        except Exception:
            log.warning("could not withdraw cancelled runs' messages", exc_info=True)
        return 0
