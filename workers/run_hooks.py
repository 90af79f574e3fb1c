"""The hooks a worker trains a run with: curves, lease, time limit, pruning and checkpoints."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from models.spec import ExperimentSpec
from workers import shutdown
from workers.checkpoints import Checkpoint, RunCheckpoints
from workers.environment import Environment
from workers.epoch_recorder import EpochRecorder
from workers.run_lease import RunLease
from workers.run_policy import Deadline, RunPolicy
from workers.run_record import RunRecord
from workers.search_hooks import PruningWatch, pruning_watch


@dataclass
class WorkerHooks:
    """`RunHooks` for a claimed run: every decision the loop asks for, from the worker's parts.

    Nothing here touches the database between batches: the lease's thread keeps the lease
    and raises its flag on a cancel; `should_stop` only reads it and the clock.
    """

    record: RunRecord
    recorder: EpochRecorder
    lease: RunLease
    deadline: Deadline
    prune: PruningWatch | None
    checkpoints: RunCheckpoints | None

    @classmethod
    def build(
        cls,
        record: RunRecord,
        spec: ExperimentSpec,
        *,
        recorder: EpochRecorder,
        lease: RunLease,
        checkpoints: RunCheckpoints | None,
        policy: RunPolicy,
    ) -> "WorkerHooks":
        """The hooks of `record`'s run of `spec` under `policy`; its time limit starts now."""
        claimed = record.claimed
        watch = pruning_watch(record.sessions, claimed.study_name, claimed.search, claimed.trial_id)
        return cls(record, recorder, lease, policy.deadline(spec), watch, checkpoints)

    def resume_from(self) -> Checkpoint | None:
        """The run's newest intact checkpoint, if the worker keeps them."""
        return self.checkpoints.latest() if self.checkpoints else None

    def started(self, epoch: int, trained_seconds: float, environment: Environment) -> None:
        """Drop checkpoints past `epoch`, charge earlier attempts' time, record the start."""
        if self.checkpoints:
            self.checkpoints.starting(epoch)
        self.recorder.last_epoch = epoch
        self.deadline.charge(trained_seconds)
        self.record.mark_started(epoch, environment)

    def epoch_done(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Record the epoch's metrics (committed now, or with the next ones if it was quick)."""
        self.recorder(epoch, metrics)

    def should_stop(self) -> bool:
        """Whether the time is up, the run is no longer this worker's (a cancel), or it stops."""
        self.lease.touch()  # asked between batches: the loop is alive
        return self.deadline.passed() or self.lease.lost or shutdown.requested()

    def should_prune(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Whether the search's pruner ends the run here."""
        return self.prune is not None and self.prune(epoch, metrics)

    def checkpoint(self, epoch: int, snapshot: Callable[[], Checkpoint]) -> None:
        """Save a checkpoint if the policy says one is due."""
        if self.checkpoints:
            self.checkpoints.after_epoch(epoch, snapshot)
