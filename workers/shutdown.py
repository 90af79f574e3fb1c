"""A worker's stop: SIGTERM or Ctrl-C hands the runs in flight back; no process is left behind.

Celery's warm shutdown waits for the running tasks, and a run may train for hours: so the
main process passes the stop on to its pool children, where a training run sees it between
batches (`requested`) and is handed back to the queue to resume from its checkpoint.

A pool child never dies of a SIGTERM sent from outside (a supervisor signalling the whole
process group, as `timeout` and systemd do): idle, it ignores the signal and leaves through
the pool's own shutdown; training, it only raises the stop flag. A child killed by a signal
can die holding a lock of the pool's shared pipes, and the main process then waits for it
forever in `Pool.join` (seen with SIGTERM to the group of `make run`). A run that does not
end within REGLAB_STOP_GRACE_SECONDS is left to its lease, and its child exits.
"""

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from types import FrameType
from typing import Any

from billiard import active_children  # type: ignore[import-untyped]
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_shutting_down

from workers.settings import get_settings

log = logging.getLogger(__name__)
EX_TEMPFAIL = 75  # a run left to its lease: try again later
# Made at import, before the pool forks, so the whole worker shares it: a child that takes a
# job just as the main process stops (while it still ignores SIGTERM) sees the stop too.
_stop = multiprocessing.get_context("fork").Event()
_in_pool_child = False
_deadline: threading.Timer | None = None


def requested() -> bool:
    """Whether this process was asked to stop (its runs are to be handed back)."""
    return _stop.is_set()


def request() -> None:
    """Ask the worker to stop; a pool child still training after the grace period exits."""
    global _deadline
    grace = get_settings().stop_grace_seconds
    if not _stop.is_set():
        _stop.set()
        log.warning("stopping: the run in flight goes back to the queue (at most %g s)", grace)
    if _in_pool_child and _deadline is None:
        _deadline = threading.Timer(grace, _abandon, args=(grace,))
        _deadline.daemon = True
        _deadline.start()


def _abandon(grace: float) -> None:
    log.error("the run in flight did not stop within %g s; leaving it to its lease", grace)
    os._exit(EX_TEMPFAIL)


def _on_term(signum: int, frame: FrameType | None) -> None:
    request()


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _pool_child_started(**_: Any) -> None:
    """Idle children ignore SIGTERM (billiard keeps an ignored signal ignored)."""
    global _in_pool_child
    _in_pool_child = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@task_prerun.connect  # type: ignore[untyped-decorator]
def _task_started(**_: Any) -> None:
    if _in_pool_child:
        signal.signal(signal.SIGTERM, _on_term)
        if requested():  # the stop came while this child still ignored SIGTERM
            request()


@task_postrun.connect  # type: ignore[untyped-decorator]
def _task_ended(**_: Any) -> None:
    # Before the child reports its result on the pool's pipe: no exit past this point.
    global _deadline
    if _deadline is not None:
        _deadline.cancel()
        _deadline = None
    if _in_pool_child:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


@worker_shutting_down.connect  # type: ignore[untyped-decorator]
def _pass_stop_on(**_: Any) -> None:
    """In the main process: tell the pool children training runs (and a solo pool's own)."""
    request()
    for child in active_children():
        if child.pid:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(child.pid, signal.SIGTERM)
