"""Runs one run against the store: claim, train with the worker's hooks, finish.

The run's rows are written by `run_record`, its policy lives in `run_policy`, its lease in
`run_lease`, and what the loop asks of the worker in `run_hooks`; this module puts them
together in the order a run lives.
"""

import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models.ingest import IngestError
from models.messaging.dispatcher import Dispatcher
from models.services.searches import objective_value
from models.spec import ExperimentSpec
from models.spec.base import problem_of
from models.store import RunError
from models.store.db import is_outage
from models.store.tables import RunStatus
from workers import shutdown
from workers.backends.base import DeviceUnavailableError
from workers.checkpoints import RunCheckpoints
from workers.datasets.uploaded import DatasetMissingError, run_data
from workers.epoch_recorder import EpochRecorder
from workers.run_hooks import WorkerHooks
from workers.run_lease import RunLease
from workers.run_policy import Deadline, RunPolicy
from workers.run_record import RunRecord, RunResult
from workers.runner import Outcome, train
from workers.search_hooks import continue_search

__all__ = ["RunPolicy", "execute_run"]
log = logging.getLogger(__name__)
DEFAULT_POLICY = RunPolicy()


def execute_run(
    run_id: int,
    *,
    sessions: sessionmaker[Any],
    threads: int,
    worker: str,
    policy: RunPolicy = DEFAULT_POLICY,
    dispatcher: Dispatcher | None = None,
) -> str:
    """Train a queued run to a terminal status; a duplicate delivery returns without training.

    "queued" if the worker stopped meanwhile: the run is queued again, to resume elsewhere.
    """
    record = RunRecord.claim(
        run_id,
        sessions=sessions,
        worker=worker,
        lease_seconds=policy.lease_seconds,
        retry_seconds=policy.db_retry_seconds,
    )
    if record is None:
        log.info("run %s is not queued; skipping this delivery", run_id)
        return "skipped"
    # Renewed from the claim to the terminal write; the thread stops on the way out, always.
    with policy.lease(record.claimed, sessions) as lease:
        recorder = EpochRecorder(run_id, sessions, policy.flush_seconds, policy.db_retry_seconds)
        checkpoints = policy.checkpoints(record.claimed, recorder)
        result = _train(record, recorder, lease, checkpoints, policy=policy, threads=threads)
        if result.status is RunStatus.QUEUED:
            return _hand_back(record, recorder)
        search = record.claimed.search
        objective = (
            objective_value(search, result.summary, recorder.last_values) if search else None
        )
        finished = record.finish(result, objective, recorder.take_pending(), policy.artifact_store)
    if finished:
        _continue_search(record, result, objective, dispatcher)
    if checkpoints and (finished or record.has_ended()):
        checkpoints.store.remove()  # not while the run lives on: its new owner may resume
    return str(result.status)


def _hand_back(record: RunRecord, recorder: EpochRecorder) -> str:
    """Queue the run again (this worker is stopping); its checkpoints stay for the next one."""
    if record.hand_back(recorder.take_pending()):
        log.info("run %s handed back after epoch %s", record.claimed.run_id, recorder.last_epoch)
    return str(RunStatus.QUEUED)


def _continue_search(
    record: RunRecord, result: RunResult, objective: float | None, dispatcher: Dispatcher | None
) -> None:
    """In a search, tell Optuna how the run ended and send the next runs by `dispatcher`.

    With no dispatcher, the next runs stay queued for the reconciler.
    """
    claimed = record.claimed
    if claimed.search is None or claimed.trial_id is None:
        return
    assert claimed.study_name is not None
    continue_search(
        record.sessions,
        claimed.experiment_id,
        claimed.study_name,
        claimed.search,
        claimed.trial_id,
        result.status,
        objective,
        dispatcher,
    )


def _train(
    record: RunRecord,
    recorder: EpochRecorder,
    lease: RunLease,
    checkpoints: RunCheckpoints | None,
    *,
    policy: RunPolicy,
    threads: int,
) -> RunResult:
    """Train a claimed run; every failure becomes a result, so the run always gets finished."""
    # Synchronous writes on purpose: a writer thread measured slower here (the GIL).
    try:
        spec = ExperimentSpec.model_validate(record.claimed.spec)
    except ValidationError as exc:  # stored under older bounds: one line naming the field
        return RunResult(RunStatus.FAILED, error=RunError("invalid_spec", problem_of(exc)))
    try:
        data = run_data(spec.dataset, record.claimed.dataset)
        hooks = WorkerHooks.build(
            record, spec, recorder=recorder, lease=lease, checkpoints=checkpoints, policy=policy
        )
        # The last epochs are written with the run's end, in its transaction.
        outcome = train(spec, threads=threads, hooks=hooks, data=data)
        result = _result_of(outcome, hooks.deadline)
    except OperationalError as exc:
        if is_outage(exc):
            # The store stayed away past the retries: leave the run as it is. Its lease
            # lapses and it resumes from its checkpoint, rather than failing here.
            raise
        result = _failure(record, recorder, exc)
    except DeviceUnavailableError as exc:
        result = RunResult(RunStatus.FAILED, error=RunError("device_unavailable", str(exc)))
    except DatasetMissingError as exc:
        result = RunResult(RunStatus.FAILED, error=RunError("dataset_missing", str(exc)))
    except IngestError as exc:  # this worker's REGLAB_INGEST_* bounds are tighter than the API's
        result = RunResult(RunStatus.FAILED, error=RunError("invalid_dataset", exc.message))
    except Exception as exc:
        result = _failure(record, recorder, exc)
    return result


def _result_of(outcome: Outcome, deadline: Deadline) -> RunResult:
    """What to write for how training ended."""
    if outcome.stopped == "diverged":
        message = (
            f"train_loss became non-finite at epoch {outcome.stopped_at}; try a lower optimizer.lr"
        )
        error = RunError("diverged", message, outcome.stopped_at)
        return RunResult(RunStatus.FAILED, error=error)
    if outcome.stopped == "interrupted" and deadline.passed():
        epoch = (outcome.stopped_at or 0) + 1
        message = f"the run reached its time limit of {deadline.seconds:g} s during epoch {epoch}"
        return RunResult(RunStatus.FAILED, error=RunError("timeout", message, epoch))
    if outcome.stopped == "interrupted" and shutdown.requested():
        return RunResult(RunStatus.QUEUED)  # handed back: it resumes on the next worker
    if outcome.stopped == "interrupted":
        return RunResult(RunStatus.CANCELLED)
    if outcome.stopped == "pruned":
        return RunResult(RunStatus.PRUNED, summary=outcome.summary, model=outcome.model)
    return RunResult(RunStatus.SUCCEEDED, summary=outcome.summary, model=outcome.model)


def _failure(record: RunRecord, recorder: EpochRecorder, exc: Exception) -> RunResult:
    """A run failed by an exception, with the epochs it finished kept (best effort)."""
    log.exception("run %s failed", record.claimed.run_id)
    try:
        recorder.flush()
    except Exception:
        log.exception("could not store the last epochs of run %s", recorder.run_id)
    error = RunError("exception", f"{type(exc).__name__}: {exc}", recorder.last_epoch + 1)
    return RunResult(RunStatus.FAILED, error=error)
