"""The reads under the live event streams: run states, new epochs, an experiment's progress.

Each is a short indexed read for one poll: runs by primary key or by experiment, and metric
rows through the (run_id, name, epoch) primary key, one range of epochs per run.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from models.metric_names import EPOCH_METRICS
from models.store.runs import RunError
from models.store.tables import Experiment, Metric, Run

# Per run, per epoch, the metrics by name.
EpochValues = dict[int, dict[int, dict[str, float]]]


@dataclass(frozen=True)
class RunState:
    """What a poll sees of a run: its status, its attempt, how many epochs it has stored."""

    run_id: int
    status: str
    attempts: int
    epochs_done: int
    error: RunError | None


@dataclass(frozen=True)
class ExperimentState:
    """How far an experiment has expanded, and whether it may still add runs."""

    configurations_started: int
    more_to_start: bool


def run_states(
    *,
    session: Session,
    project_id: int,
    run_ids: Collection[int] | None = None,
    experiment_id: int | None = None,
) -> list[RunState]:
    """The project's runs among `run_ids` and/or of `experiment_id`, by id."""
    query = (
        select(
            Run.id,
            Run.status,
            Run.attempts,
            Run.epochs_done,
            Run.error_type,
            Run.error_message,
            Run.error_epoch,
        )
        .where(Run.project_id == project_id)
        .order_by(Run.id)
    )
    if run_ids is not None:
        query = query.where(Run.id.in_(run_ids))
    if experiment_id is not None:
        query = query.where(Run.experiment_id == experiment_id)
    return [
        RunState(
            row.id,
            row.status,
            row.attempts,
            row.epochs_done,
            RunError(row.error_type, row.error_message or "", row.error_epoch)
            if row.error_type
            else None,
        )
        for row in session.execute(query)
    ]


@lru_cache(maxsize=128)
def _ranges_query(count: int) -> Select[int, int, str, float]:
    """The metrics of `count` ranges of epochs, one per run, as parameters `r<i>`, `a<i>`,
    `u<i>`: built once per count, since building the expression costs more than the read."""
    # The names are listed so that each range is one scan of the primary key.
    ranges = [
        and_(
            Metric.run_id == bindparam(f"r{i}"),
            Metric.name.in_(EPOCH_METRICS),
            Metric.epoch > bindparam(f"a{i}"),
            Metric.epoch <= bindparam(f"u{i}"),
        )
        for i in range(count)
    ]
    return select(Metric.run_id, Metric.epoch, Metric.name, Metric.value).where(or_(*ranges))


def epoch_values(*, session: Session, spans: Mapping[int, tuple[int, int]]) -> EpochValues:
    """Per run, the metrics of its epochs `after < epoch <= upto`, `spans` giving the pair."""
    params: dict[str, int] = {}
    for run_id, (after, upto) in spans.items():
        if upto > after:
            i = len(params) // 3
            params |= {f"r{i}": run_id, f"a{i}": after, f"u{i}": upto}
    found: EpochValues = {}
    if not params:
        return found
    for run_id, epoch, name, value in session.execute(_ranges_query(len(params) // 3), params):
        found.setdefault(run_id, {}).setdefault(epoch, {})[name] = value
    return found


def experiment_state(
    *, session: Session, project_id: int, experiment_id: int
) -> ExperimentState | None:
    """The project's experiment's expansion so far; None if there is no such experiment.

    A search may add runs while it has configurations left and is not cancelled (see
    `models.services.searches`); an experiment without a search has none planned.
    """
    row = session.execute(
        select(
            Experiment.configurations_started,
            Experiment.configurations_planned,
            Experiment.cancelled_at,
        ).where(Experiment.id == experiment_id, Experiment.project_id == project_id)
    ).one_or_none()
    if row is None:
        return None
    more = row.cancelled_at is None and row.configurations_started < row.configurations_planned
    return ExperimentState(row.configurations_started, more)
