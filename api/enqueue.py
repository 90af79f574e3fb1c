"""Hands committed runs to the broker by task name; the API never imports worker code."""

import logging
from functools import lru_cache

from celery import Celery

from api.settings import get_settings
from models.queue import send_run

log = logging.getLogger(__name__)


@lru_cache
def _client() -> Celery:
    settings = get_settings()
    client = Celery("reglab-api", broker=settings.resolved_broker_url(), set_as_current=False)
    client.conf.broker_transport = settings.broker_transport()
    client.conf.broker_transport_options = settings.broker_transport_options()
    client.conf.broker_connection_timeout = 3
    return client


def enqueue_run(run_id: int, backend: str, device: str) -> bool:
    """Send one run id to its backend's queue; False (and logged) if the broker refused."""
    try:
        send_run(_client(), run_id, backend, device)
    except Exception:
        # The run is committed and stays queued: the database, not the queue, is the truth.
        log.exception("could not enqueue run %s; it stays queued", run_id)
        return False
    return True


def broker_reachable() -> bool:
    """Whether the broker accepts a connection within a second."""
    try:
        with _client().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except Exception:
        return False
    return True
