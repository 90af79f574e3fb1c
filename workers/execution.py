"""Runs one run against the store: claim, train, write epochs as they end, finish."""

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.spec import ExperimentSpec
from models.store import RunError
from models.tables import RunStatus
from workers.backends.base import DeviceUnavailableError
from workers.runner import train

log = logging.getLogger(__name__)


def execute_run(run_id: int, *, sessions: sessionmaker[Any], threads: int, worker: str) -> str:
    """Train a queued run to a terminal status; a duplicate delivery returns without training."""
    with sessions.begin() as session:
        if not store.claim_run(session=session, run_id=run_id, worker=worker):
            log.info("run %s is not queued; skipping this delivery", run_id)
            return "skipped"
        run = store.load_run(session=session, run_id=run_id)
        assert run is not None
        spec = ExperimentSpec.model_validate(run.spec)
    last_epoch = 0

    def on_epoch(epoch: int, values: Mapping[str, float]) -> None:
        nonlocal last_epoch
        with sessions.begin() as session:
            store.record_epoch(session=session, run_id=run_id, epoch=epoch, values=values)
        last_epoch = epoch

    status, summary, error = RunStatus.SUCCEEDED, None, None
    try:
        outcome = train(spec, threads=threads, on_epoch=on_epoch)
    except DeviceUnavailableError as exc:
        status, error = RunStatus.FAILED, RunError("device_unavailable", str(exc))
    except Exception as exc:
        log.exception("run %s failed", run_id)
        message = f"{type(exc).__name__}: {exc}"
        status, error = RunStatus.FAILED, RunError("exception", message, last_epoch + 1)
    else:
        if outcome.diverged_at is not None:
            status = RunStatus.FAILED
            error = RunError(
                "diverged",
                f"train_loss became non-finite at epoch {outcome.diverged_at}; "
                "try a lower optimizer.lr",
                outcome.diverged_at,
            )
        summary = outcome.summary
    with sessions.begin() as session:
        store.finish_run(
            session=session, run_id=run_id, status=status, summary=summary, error=error
        )
    return str(status)
