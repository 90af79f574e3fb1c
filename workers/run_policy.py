"""How a worker looks after a run: its policy (settings), its time limit and checkpoint timing."""

import math
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import sessionmaker

from models.blobs import BlobStore, blob_store
from models.spec import ExperimentSpec
from workers.checkpoints import CheckpointStore, RunCheckpoints
from workers.epoch_recorder import EpochRecorder
from workers.run_lease import RunLease
from workers.run_record import ClaimedRun
from workers.settings import Settings


@dataclass(frozen=True)
class RunPolicy:
    """How a worker looks after a run (the worker's settings; defaults suit tests)."""

    flush_seconds: float = 1.0  # epochs ending faster than this are committed together
    heartbeat_seconds: float = 1.0  # lease renewal, which also notices a cancel
    lease_seconds: float = 60.0
    time_limit_seconds: float = 86400.0  # a spec's own limit may only be shorter
    db_retry_seconds: float = 60.0  # how long writes are retried while the store is away
    checkpoint_store: BlobStore | None = None  # runs' checkpoints live here; None: none taken
    checkpoint_every_epochs: int = 1
    checkpoint_min_seconds: float = 0.0  # at least this long between a run's checkpoints
    artifact_store: BlobStore | None = None  # trained runs' artifacts go here; None: not kept

    @classmethod
    def of(cls, settings: Settings) -> "RunPolicy":
        """The policy a worker with these settings applies."""
        return cls(
            flush_seconds=settings.metrics_flush_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            lease_seconds=settings.lease_seconds,
            time_limit_seconds=settings.run_time_limit_seconds,
            db_retry_seconds=settings.db_retry_seconds,
            checkpoint_store=blob_store(settings) if settings.checkpoint_every_epochs else None,
            checkpoint_every_epochs=settings.checkpoint_every_epochs,
            checkpoint_min_seconds=settings.checkpoint_min_seconds,
            artifact_store=blob_store(settings),
        )

    def deadline(self, spec: ExperimentSpec) -> "Deadline":
        """The time limit of a run of `spec`, starting now: the spec's own, or this policy's."""
        return Deadline(min(spec.training.time_limit_seconds or math.inf, self.time_limit_seconds))

    def lease(self, claimed: ClaimedRun, sessions: sessionmaker[Any]) -> RunLease:
        """The claimed run's lease, renewed every heartbeat (start it with `with`)."""
        return RunLease(
            claimed.run_id,
            claimed.worker,
            sessions,
            interval=self.heartbeat_seconds,
            lease_seconds=self.lease_seconds,
        )

    def checkpoints(self, claimed: ClaimedRun, recorder: EpochRecorder) -> RunCheckpoints | None:
        """The run's checkpointing under this policy (None if the worker takes none)."""
        if self.checkpoint_store is None:
            return None
        return RunCheckpoints(
            CheckpointStore.of_run(self.checkpoint_store, claimed.run_id, claimed.spec),
            every_epochs=self.checkpoint_every_epochs,
            min_seconds=self.checkpoint_min_seconds,
            before_save=recorder.flush,
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
