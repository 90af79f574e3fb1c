"""Runs one run against the store: claim, train, write epochs as they end, finish."""

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store
from models.messaging.dispatcher import Dispatcher
from models.search.spec import SearchSpec
from models.services.searches import objective_value
from models.spec import ExperimentSpec
from models.store import RunError
from models.store.db import is_outage, with_retries
from models.store.tables import RunStatus
from workers.backends.base import DeviceUnavailableError
from workers.checkpoints import CheckpointStore, RunCheckpoints
from workers.epoch_recorder import EpochRecorder
from workers.run_lease import RunLease
from workers.runner import Outcome, StartCallback, train
from workers.search_hooks import continue_search, pruning_watch
from workers.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What gets written when a run ends."""

    status: RunStatus
    summary: dict[str, float] = field(default_factory=dict)
    error: RunError | None = None


@dataclass(frozen=True)
class ClaimedRun:
    """A run this worker now owns: its spec and, in a search, its place there."""

    run_id: int
    worker: str
    attempt: int  # 1 for the first claim; later ones follow a lost worker
    spec: dict[str, Any]
    experiment_id: int
    trial_id: int | None
    search: SearchSpec | None
    study_name: str | None


def _claim(
    run_id: int, sessions: sessionmaker[Any], worker: str, lease_seconds: float
) -> ClaimedRun | None:
    """Claim a queued run under a lease; None if it is not queued (a duplicate delivery)."""
    with sessions.begin() as session:
        claimed = store.claim_run(
            session=session, run_id=run_id, worker=worker, lease_seconds=lease_seconds
        )
        if not claimed:
            return None
        run = store.load_run(session=session, run_id=run_id)
        assert run is not None
        experiment = store.load_experiment(session=session, experiment_id=run.experiment_id)
        assert experiment is not None
        in_search = run.trial_id is not None and experiment.search is not None
        return ClaimedRun(
            run_id=run_id,
            worker=worker,
            attempt=run.attempts,
            spec=run.spec,
            experiment_id=run.experiment_id,
            trial_id=run.trial_id,
            search=SearchSpec.model_validate(experiment.search) if in_search else None,
            study_name=experiment.study_name,
        )


@dataclass(frozen=True)
class RunPolicy:
    """How a worker looks after a run (the worker's settings; defaults suit tests)."""

    flush_seconds: float = 0.25  # epochs ending faster than this are committed together
    heartbeat_seconds: float = 1.0  # lease renewal and cancel check, between batches
    lease_seconds: float = 60.0
    time_limit_seconds: float = 86400.0  # a spec's own limit may only be shorter
    db_retry_seconds: float = 60.0  # how long writes are retried while the store is away
    checkpoint_dir: Path | None = None  # runs' checkpoint folders live here; None: none taken
    checkpoint_every_epochs: int = 1
    checkpoint_min_seconds: float = 0.0  # at least this long between a run's checkpoints

    @classmethod
    def of(cls, settings: Settings) -> "RunPolicy":
        """The policy a worker with these settings applies."""
        return cls(
            flush_seconds=settings.metrics_flush_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            lease_seconds=settings.lease_seconds,
            time_limit_seconds=settings.run_time_limit_seconds,
            db_retry_seconds=settings.db_retry_seconds,
            checkpoint_dir=settings.resolved_checkpoint_dir(),
            checkpoint_every_epochs=settings.checkpoint_every_epochs,
            checkpoint_min_seconds=settings.checkpoint_min_seconds,
        )


class Deadline:
    """The moment a run's time is up."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds

    def passed(self) -> bool:
        """Whether the time is up."""
        return time.monotonic() >= self._at

    def charge(self, seconds: float) -> None:
        """Count `seconds` trained by earlier attempts against the limit."""
        self._at -= seconds


def _result_of(outcome: Outcome, deadline: Deadline) -> RunResult:
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
    if outcome.stopped == "interrupted":
        return RunResult(RunStatus.CANCELLED)
    if outcome.stopped == "pruned":
        return RunResult(RunStatus.PRUNED, summary=outcome.summary)
    return RunResult(RunStatus.SUCCEEDED, summary=outcome.summary)


def execute_run(
    run_id: int,
    *,
    sessions: sessionmaker[Any],
    threads: int,
    worker: str,
    policy: RunPolicy = RunPolicy(),
    dispatcher: Dispatcher | None = None,
) -> str:
    """Train a queued run to a terminal status; a duplicate delivery returns without training.

    In a search, the run's end is told to Optuna and the search's next runs are sent by
    `dispatcher` (None: they stay queued for the reconciler).
    """
    claimed = with_retries(
        lambda: _claim(run_id, sessions, worker, policy.lease_seconds),
        seconds=policy.db_retry_seconds,
    )
    if claimed is None:
        log.info("run %s is not queued; skipping this delivery", run_id)
        return "skipped"
    recorder = EpochRecorder(run_id, sessions, policy.flush_seconds, policy.db_retry_seconds)
    lease = RunLease(
        run_id,
        worker,
        sessions,
        interval=policy.heartbeat_seconds,
        lease_seconds=policy.lease_seconds,
    )
    checkpoints = _checkpoints(claimed, recorder, policy)
    result = _train(
        claimed, recorder, lease, policy, checkpoints, sessions=sessions, threads=threads
    )
    ended = _conclude(claimed, result, recorder.last_values, sessions, policy, dispatcher)
    if checkpoints and (ended or _has_ended(sessions, run_id)):
        checkpoints.store.remove()  # not while the run lives on: its new owner may resume
    return str(result.status)


def _has_ended(sessions: sessionmaker[Any], run_id: int) -> bool:
    """Whether the run is over (cancelled while it trained), best effort."""
    try:
        with sessions() as session:
            return bool(store.ended_runs(session=session, run_ids={run_id}))
    except OperationalError:
        return False  # left on disk for the workers' sweep of ended runs


def _checkpoints(
    claimed: ClaimedRun, recorder: EpochRecorder, policy: RunPolicy
) -> RunCheckpoints | None:
    """The run's checkpointing under this policy (None if the worker takes none)."""
    if policy.checkpoint_dir is None:
        return None
    return RunCheckpoints(
        CheckpointStore.of_run(policy.checkpoint_dir, claimed.run_id, claimed.spec),
        every_epochs=policy.checkpoint_every_epochs,
        min_seconds=policy.checkpoint_min_seconds,
        before_save=recorder.flush,
    )


def _on_start(
    claimed: ClaimedRun,
    recorder: EpochRecorder,
    deadline: Deadline,
    sessions: sessionmaker[Any],
    policy: RunPolicy,
) -> StartCallback:
    """What the worker does once training knows where it starts."""

    def started(epoch: int, trained_seconds: float) -> None:
        recorder.last_epoch = epoch
        deadline.charge(trained_seconds)
        if not epoch and claimed.attempt == 1:
            return  # a first attempt from scratch: nothing stored to correct

        def write() -> None:
            with sessions.begin() as session:
                store.mark_started(
                    session=session, run_id=claimed.run_id, worker=claimed.worker, epoch=epoch
                )

        with_retries(write, seconds=policy.db_retry_seconds)

    return started


def _conclude(
    claimed: ClaimedRun,
    result: RunResult,
    last_epoch: Mapping[str, float],
    sessions: sessionmaker[Any],
    policy: RunPolicy,
    dispatcher: Dispatcher | None,
) -> bool:
    """Write the run's end; in a search, tell Optuna and start the next runs.

    False if the run was no longer this worker's to end (cancelled, or handed to another).
    """
    search = claimed.search
    objective = objective_value(search, result.summary, last_epoch) if search else None
    finished = with_retries(
        lambda: _finish(sessions, claimed, result, objective),
        seconds=policy.db_retry_seconds,
    )
    if finished and search is not None and claimed.trial_id is not None:
        assert claimed.study_name is not None
        continue_search(
            sessions,
            claimed.experiment_id,
            claimed.study_name,
            search,
            claimed.trial_id,
            result.status,
            objective,
            dispatcher,
        )
    return finished


def _finish(
    sessions: sessionmaker[Any],
    claimed: ClaimedRun,
    result: RunResult,
    objective: float | None,
) -> bool:
    """Write the terminal status (only if the run is still this worker's); True if written."""
    with sessions.begin() as session:
        return store.finish_run(
            session=session,
            run_id=claimed.run_id,
            worker=claimed.worker,
            status=result.status,
            summary=result.summary,
            error=result.error,
            objective_value=objective,
        )


def _train(
    claimed: ClaimedRun,
    recorder: EpochRecorder,
    lease: RunLease,
    policy: RunPolicy,
    checkpoints: RunCheckpoints | None,
    *,
    sessions: sessionmaker[Any],
    threads: int,
) -> RunResult:
    """Train a claimed run; every failure becomes a result, so the run always gets finished."""
    # Synchronous writes on purpose: a writer thread measured slower here (the GIL).
    try:
        spec = ExperimentSpec.model_validate(claimed.spec)
        limit = min(spec.training.time_limit_seconds or math.inf, policy.time_limit_seconds)
        deadline = Deadline(limit)
        watch = pruning_watch(sessions, claimed.study_name, claimed.search, claimed.trial_id)
        outcome = train(
            spec,
            threads=threads,
            on_epoch=recorder,
            should_prune=watch,
            interrupt=lambda: deadline.passed() or lease(),
            checkpoints=checkpoints,
            on_start=_on_start(claimed, recorder, deadline, sessions, policy),
        )
        result = _result_of(outcome, deadline)
        recorder.flush()
    except OperationalError as exc:
        if is_outage(exc):
            # The store stayed away past the retries: leave the run as it is. Its lease
            # lapses and it resumes from its checkpoint, rather than failing here.
            raise
        result = _failure(claimed, recorder, exc)
    except DeviceUnavailableError as exc:
        result = RunResult(RunStatus.FAILED, error=RunError("device_unavailable", str(exc)))
    except Exception as exc:
        result = _failure(claimed, recorder, exc)
    return result


def _failure(claimed: ClaimedRun, recorder: EpochRecorder, exc: Exception) -> RunResult:
    """A run failed by an exception, with the epochs it finished kept (best effort)."""
    log.exception("run %s failed", claimed.run_id)
    try:
        recorder.flush()
    except Exception:
        log.exception("could not store the last epochs of run %s", recorder.run_id)
    error = RunError("exception", f"{type(exc).__name__}: {exc}", recorder.last_epoch + 1)
    return RunResult(RunStatus.FAILED, error=error)
