"""A run's life in the database, as its worker writes it: claim, mark started, finish."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store
from models.blobs import BlobStore
from models.search.spec import SearchSpec
from models.services.blobs import collect_unused
from models.store import RunError
from models.store.artifacts import add_artifacts
from models.store.datasets import DatasetRef
from models.store.db import with_retries
from models.store.tables import RunStatus
from workers.artifacts import TrainedModel, write_artifacts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What gets written when a run ends."""

    status: RunStatus
    summary: dict[str, float] = field(default_factory=dict)
    error: RunError | None = None
    model: TrainedModel | None = None  # a run that trained: what its artifacts hold


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
    dataset: DatasetRef | None  # the uploaded dataset version it trains on; None: built in


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
        found = store.run_assignment(session=session, run_id=run_id)
        assert found is not None
        in_search = found.trial_id is not None and found.search is not None
        return ClaimedRun(
            run_id=run_id,
            worker=worker,
            attempt=found.attempts,
            spec=found.spec,
            experiment_id=found.experiment_id,
            trial_id=found.trial_id,
            search=SearchSpec.model_validate(found.search) if in_search else None,
            study_name=found.study_name,
            dataset=found.dataset,
        )


@dataclass(frozen=True)
class RunRecord:
    """The row of a run this worker claimed; every write is retried while the store is away."""

    claimed: ClaimedRun
    sessions: sessionmaker[Any]
    retry_seconds: float

    @classmethod
    def claim(
        cls,
        run_id: int,
        *,
        sessions: sessionmaker[Any],
        worker: str,
        lease_seconds: float,
        retry_seconds: float,
    ) -> "RunRecord | None":
        """Claim a queued run under a lease; None if it is not queued (a duplicate delivery)."""
        claimed = with_retries(
            lambda: _claim(run_id, sessions, worker, lease_seconds), seconds=retry_seconds
        )
        return None if claimed is None else cls(claimed, sessions, retry_seconds)

    def mark_started(self, epoch: int, environment: Mapping[str, Any]) -> None:
        """Record that this attempt starts after `epoch`, and in what; later epochs go."""
        claimed = self.claimed

        def write() -> None:
            with self.sessions.begin() as session:
                store.mark_started(
                    session=session,
                    run_id=claimed.run_id,
                    worker=claimed.worker,
                    epoch=epoch,
                    environment=environment,
                    dataset=claimed.dataset,
                )

        with_retries(write, seconds=self.retry_seconds)

    def finish(
        self,
        result: RunResult,
        objective: float | None,
        last_epochs: Mapping[int, Mapping[str, float]],
        artifact_store: BlobStore | None = None,
    ) -> bool:
        """Write the last epochs and, if the run is still this worker's, its terminal status
        and its artifacts (a model it trained, put in `artifact_store` first).

        One transaction: the curves are kept either way (a cancelled run keeps them too).
        True if the status was written.
        """
        claimed = self.claimed
        artifacts = write_artifacts(artifact_store, claimed, result.model)

        def write() -> bool:
            with self.sessions.begin() as session:
                store.record_epochs(session=session, run_id=claimed.run_id, epochs=last_epochs)
                finished = store.finish_run(
                    session=session,
                    run_id=claimed.run_id,
                    worker=claimed.worker,
                    status=result.status,
                    summary=result.summary,
                    error=result.error,
                    objective_value=objective,
                )
                if finished and artifacts:
                    add_artifacts(session=session, run_id=claimed.run_id, files=artifacts)
                return finished

        finished = with_retries(write, seconds=self.retry_seconds)
        if artifacts and not finished and artifact_store is not None:
            # The run ended elsewhere (a cancel, a lost lease): no row came to hold these.
            collect_unused(self.sessions, artifact_store, [a.sha256 for a in artifacts])
        return finished

    def hand_back(self, last_epochs: Mapping[int, Mapping[str, float]]) -> bool:
        """Write the last epochs and queue the run again, its attempt unspent (a stopping worker).

        True if the run was still this worker's to give back.
        """
        claimed = self.claimed

        def write() -> bool:
            with self.sessions.begin() as session:
                store.record_epochs(session=session, run_id=claimed.run_id, epochs=last_epochs)
                return store.release_run(
                    session=session, run_id=claimed.run_id, worker=claimed.worker
                )

        return with_retries(write, seconds=self.retry_seconds)

    def has_ended(self) -> bool:
        """Whether the run is over (cancelled while it trained), best effort."""
        try:
            with self.sessions() as session:
                return bool(store.ended_runs(session=session, run_ids={self.claimed.run_id}))
        except OperationalError:
            return False  # left on disk for the workers' sweep of ended runs
