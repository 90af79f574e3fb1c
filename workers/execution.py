"""Runs one run against the store: claim, train, write epochs as they end, finish."""

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.spec import ExperimentSpec
from models.store import RunError
from models.tables import RunStatus
from workers.backends.base import DeviceUnavailableError
from workers.epoch_recorder import EpochRecorder
from workers.runner import Outcome, train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What gets written when a run ends."""

    status: RunStatus
    summary: dict[str, float] = field(default_factory=dict)
    error: RunError | None = None


def _claim(run_id: int, sessions: sessionmaker[Any], worker: str) -> dict[str, Any] | None:
    """Claim a queued run and return its stored spec; None if it is not queued (duplicate)."""
    with sessions.begin() as session:
        if not store.claim_run(session=session, run_id=run_id, worker=worker):
            return None
        run = store.load_run(session=session, run_id=run_id)
        assert run is not None
        return run.spec


def _result_of(outcome: Outcome) -> RunResult:
    if outcome.diverged_at is None:
        return RunResult(RunStatus.SUCCEEDED, summary=outcome.summary)
    message = (
        f"train_loss became non-finite at epoch {outcome.diverged_at}; try a lower optimizer.lr"
    )
    return RunResult(RunStatus.FAILED, error=RunError("diverged", message, outcome.diverged_at))


def execute_run(
    run_id: int,
    *,
    sessions: sessionmaker[Any],
    threads: int,
    worker: str,
    flush_seconds: float = 0.25,
) -> str:
    """Train a queued run to a terminal status; a duplicate delivery returns without training."""
    stored_spec = _claim(run_id, sessions, worker)
    if stored_spec is None:
        log.info("run %s is not queued; skipping this delivery", run_id)
        return "skipped"
    result = _train(run_id, stored_spec, sessions=sessions, threads=threads, flush=flush_seconds)
    with sessions.begin() as session:
        store.finish_run(
            session=session,
            run_id=run_id,
            status=result.status,
            summary=result.summary,
            error=result.error,
        )
    return str(result.status)


def _train(
    run_id: int,
    stored_spec: dict[str, Any],
    *,
    sessions: sessionmaker[Any],
    threads: int,
    flush: float,
) -> RunResult:
    """Train a claimed run; every failure becomes a result, so the run always gets finished."""
    # Synchronous writes on purpose: a writer thread measured slower here (the GIL).
    recorder = EpochRecorder(run_id, sessions, flush)
    try:
        spec = ExperimentSpec.model_validate(stored_spec)
        result = _result_of(train(spec, threads=threads, on_epoch=recorder))
        recorder.flush()
    except DeviceUnavailableError as exc:
        result = RunResult(RunStatus.FAILED, error=RunError("device_unavailable", str(exc)))
    except Exception as exc:
        log.exception("run %s failed", run_id)
        error = RunError("exception", f"{type(exc).__name__}: {exc}", recorder.last_epoch + 1)
        result = RunResult(RunStatus.FAILED, error=error)
        _keep_curves(recorder)
    return result


def _keep_curves(recorder: EpochRecorder) -> None:
    """Best effort to store the epochs a failed run finished before it failed."""
    try:
        recorder.flush()
    except Exception:
        log.exception("could not store the last epochs of run %s", recorder.run_id)
