"""Hands committed runs to the broker by task name; the API never imports worker code.

It also keeps watch on the broker for the reconciler: which runs it could not send, and
whether the broker has lost what it held (a Redis restarted without persistence, a flush).
"""

import logging
import threading
from functools import lru_cache

from celery import Celery
from kombu import Exchange, Queue  # type: ignore[attr-defined]

from api.settings import get_settings
from models.queue import send_run

log = logging.getLogger(__name__)
# A queue no worker consumes, holding one message: if it is gone, so is every queued run's.
MARKER_QUEUE = "reglab.marker"
_unsent: set[int] = set()
_unsent_lock = threading.Lock()


@lru_cache
def _client() -> Celery:
    settings = get_settings()
    client = Celery("reglab-api", broker=settings.resolved_broker_url(), set_as_current=False)
    client.conf.broker_transport = settings.broker_transport()
    client.conf.broker_transport_options = settings.broker_transport_options()
    client.conf.broker_connection_timeout = 3
    return client


def enqueue_run(run_id: int, backend: str, device: str) -> bool:
    """Send one run id to its queue; False (logged, and kept for the reconciler) if refused."""
    try:
        send_run(_client(), run_id, backend, device)
    except Exception:
        # The run is committed and stays queued: the database, not the queue, is the truth.
        log.exception("could not enqueue run %s; it stays queued", run_id)
        with _unsent_lock:
            _unsent.add(run_id)
        return False
    with _unsent_lock:
        _unsent.discard(run_id)
    return True


def unsent_runs() -> set[int]:
    """Runs this process failed to send and has not sent since."""
    with _unsent_lock:
        return set(_unsent)


def forget_unsent(run_ids: set[int]) -> None:
    """Stop tracking runs that are no longer queued (sent by another path, or cancelled)."""
    with _unsent_lock:
        _unsent.difference_update(run_ids)


def _marker() -> Queue:
    exchange = Exchange(MARKER_QUEUE, type="direct")  # type: ignore[no-untyped-call]
    return Queue(MARKER_QUEUE, exchange, routing_key=MARKER_QUEUE)  # type: ignore[no-untyped-call]


def marker_missing() -> bool:
    """Whether the broker answers but holds no marker: it lost its messages (or never had one).

    False when the broker cannot be reached, since nothing can be told then.
    """
    try:
        with _client().connection_for_write() as conn:
            _, held, _ = _marker()(conn.default_channel).queue_declare()  # type: ignore[no-untyped-call]
    except Exception:
        log.warning("broker unreachable; queued runs are checked again next time", exc_info=True)
        return False
    return not held


def lay_marker() -> None:
    """Put the marker in place, once every queued run has been sent again."""
    try:
        with _client().connection_for_write() as conn:
            marker = _marker()
            conn.Producer().publish({}, routing_key=MARKER_QUEUE, declare=[marker], retry=False)
    except Exception:
        log.warning("could not lay the broker marker; the next pass tries again", exc_info=True)


def broker_reachable() -> bool:
    """Whether the broker accepts a connection within a second."""
    try:
        with _client().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except Exception:
        return False
    return True
