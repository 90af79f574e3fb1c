"""Search bookkeeping: claim the next configuration, add its runs, count what is in flight."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.store.runs import LIVE
from models.store.tables import Experiment, Run


def configurations_in_flight(*, session: Session, experiment_id: int) -> int:
    """Configurations of the experiment with a run queued or running."""
    return (
        session.scalar(
            select(func.count(func.distinct(Run.configuration))).where(
                Run.experiment_id == experiment_id, Run.status.in_(LIVE)
            )
        )
        or 0
    )


def claim_configuration(*, session: Session, experiment_id: int, index: int) -> bool:
    """Take configuration `index` if it is the next one (compare-and-set); False if taken,
    or if the experiment was cancelled meanwhile (its cancel saw none of these runs)."""
    result = session.execute(
        update(Experiment)
        .where(
            Experiment.id == experiment_id,
            Experiment.configurations_started == index,
            Experiment.cancelled_at.is_(None),
        )
        .values(configurations_started=index + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_configuration_runs(
    *,
    session: Session,
    experiment: Experiment,
    index: int,
    specs: Sequence[dict[str, Any]],
    trial_ids: Sequence[int],
) -> list[Run]:
    """Queue one run per (resolved spec, Optuna trial) of configuration `index`."""
    runs = [
        Run(
            project_id=experiment.project_id,
            experiment_id=experiment.id,
            backend=spec["backend"],
            seed=spec["seed"],
            spec=spec,
            configuration=index,
            trial_id=trial_id,
        )
        for spec, trial_id in zip(specs, trial_ids, strict=True)
    ]
    session.add_all(runs)
    session.flush()
    return runs


def get_search(*, session: Session, experiment_id: int) -> dict[str, Any] | None:
    """The experiment's stored search, or None for a single-run experiment."""
    return session.scalar(select(Experiment.search).where(Experiment.id == experiment_id))


def stalled_searches(*, session: Session) -> list[int]:
    """Searches with configurations left but no run in flight (a lost continuation)."""
    in_flight = select(Run.id).where(Run.experiment_id == Experiment.id, Run.status.in_(LIVE))
    return list(
        session.scalars(
            select(Experiment.id).where(
                Experiment.search.is_not(None),
                Experiment.cancelled_at.is_(None),
                Experiment.configurations_started < Experiment.configurations_planned,
                ~in_flight.exists(),
            )
        )
    )
