"""This worker in the store: registered when ready, renewed while it lives, removed on a stop.

Runs in the Celery main process only (its signals), so `GET /workers` and a queued run's
`waiting_for` know which queues some live worker consumes. The main process never trains and
never imports a framework; its connection to the store is dropped, unclosed, in every child
it forks, so that no connection is shared across a fork.
"""

import logging
import os
import socket
import threading
from collections.abc import Collection
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from sqlalchemy.orm import sessionmaker

from models import store
from models.messaging.queue import queue_for
from models.store.db import make_engine, make_sessionmaker, with_retries
from models.store.tables import utcnow
from workers.backends import BACKEND_MODULES
from workers.settings import get_settings

log = logging.getLogger(__name__)
MISSED_BEATS = 3  # a worker silent this many beats is taken as gone


def describe(queues: Collection[str], concurrency: int) -> store.WorkerRecord:
    """This process as a worker consuming `queues` with `concurrency` children."""
    cuda = {b for b in BACKEND_MODULES if queue_for(b, "cuda") in queues}
    backends = [b for b in BACKEND_MODULES if b in cuda or queue_for(b) in queues]
    return store.WorkerRecord(
        host=socket.gethostname(),
        pid=os.getpid(),
        queues=sorted(queues),
        backends=backends,
        cuda=bool(cuda),
        concurrency=concurrency,
        started_at=utcnow(),
    )


class Registration:
    """Keeps a worker's row live from a daemon thread, beating every `interval` seconds.

    The first beat registers the worker; every later one is a single UPDATE (registering
    again if the row went missing). A store that is away costs the beats it outlasts, never
    the thread: the worker counts as gone meanwhile and as live again once a beat lands.
    """

    def __init__(
        self, worker: store.WorkerRecord, sessions: sessionmaker[Any], *, interval: float
    ) -> None:
        self.worker = worker
        self.sessions = sessions
        self.interval = interval
        self.live_seconds = MISSED_BEATS * interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="worker-registry", daemon=True)

    def start(self) -> None:
        """Register now and keep beating until `stop`."""
        self._thread.start()

    def _keep(self) -> None:
        self.beat()
        while not self._stopping.wait(self.interval):
            self.beat()
        self._leave()

    def beat(self) -> None:
        """Tell the store this worker is alive; failures are logged, not raised."""
        try:
            with_retries(self._renew, seconds=self.interval)
        except Exception:
            log.exception("could not record worker %s as alive", self.worker.name)

    def _renew(self) -> None:
        name, live_seconds = self.worker.name, self.live_seconds
        with self.sessions.begin() as session:
            if not store.worker_seen(session=session, name=name, live_seconds=live_seconds):
                store.register_worker(
                    session=session, worker=self.worker, live_seconds=live_seconds
                )

    def stop(self) -> None:
        """Stop beating and remove the row, waiting at most one beat (else the row lapses)."""
        self._stopping.set()
        self._thread.join(timeout=self.interval)
        if self._thread.is_alive():
            log.warning("worker %s could not leave within a beat; its row lapses", self.worker.name)

    def _leave(self) -> None:
        # In the beating thread, after its last beat: no beat can register the worker again.
        try:
            with self.sessions.begin() as session:
                store.remove_worker(session=session, name=self.worker.name)
        except Exception:
            log.exception("could not remove worker %s; its row lapses", self.worker.name)


_registrations: list[Registration] = []


def _on_ready(sender: Any, **_: Any) -> None:
    """worker_ready (sent once, by the main process's consumer): register and start beating."""
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    # A child forked later (a replaced one) must not use or close the parent's connection.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    worker = describe(sender.app.amqp.queues.consume_from, sender.controller.concurrency)
    registration = Registration(
        worker, make_sessionmaker(engine), interval=settings.worker_heartbeat_seconds
    )
    registration.start()
    _registrations.append(registration)


def _on_shutdown(**_: Any) -> None:
    """worker_shutdown (main process, after the children stopped): leave the store."""
    while _registrations:
        _registrations.pop().stop()


def connect() -> None:
    """Hook registration into this process's Celery worker signals."""
    worker_ready.connect(_on_ready, weak=False)
    worker_shutdown.connect(_on_shutdown, weak=False)
