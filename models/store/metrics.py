"""Per-epoch metric writes and reads, downsampled on the server."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from models.store.upsert import upsert
from models.tables import Metric, Run


@dataclass(frozen=True)
class MetricSeries:
    """Curves aligned on a shared epoch axis; None where a series has no value at an epoch."""

    epochs: list[int]
    series: dict[str, list[float | None]]


def record_epochs(
    *, session: Session, run_id: int, epochs: Mapping[int, Mapping[str, float]]
) -> None:
    """Write whole epochs' metrics in one statement and advance the run's `epochs_done`."""
    if not epochs:
        return
    rows = [
        {"run_id": run_id, "name": name, "epoch": epoch, "value": value}
        for epoch, values in epochs.items()
        for name, value in values.items()
    ]
    upsert(session=session, table=Metric, rows=rows, keys=("run_id", "name", "epoch"))
    session.execute(update(Run).where(Run.id == run_id).values(epochs_done=max(epochs)))


def read_metrics(
    *,
    session: Session,
    run_id: int,
    keys: Sequence[str] | None = None,
    max_points: int | None = None,
) -> MetricSeries:
    """A run's curves, restricted to `keys` and thinned to at most `max_points` epochs.

    Thinning keeps every `stride`-th epoch from the first, plus the last, and happens in
    SQL so a long history is never shipped whole to be discarded.
    """
    if max_points is not None and max_points < 2:
        raise ValueError("max_points must be at least 2 (the first and the last epoch)")
    query = select(Metric.epoch, Metric.name, Metric.value).where(Metric.run_id == run_id)
    if keys:
        query = query.where(Metric.name.in_(keys))
    if max_points is not None:
        last = session.scalar(select(Run.epochs_done).where(Run.id == run_id)) or 0
        stride = math.ceil((last - 1) / (max_points - 1))
        if stride > 1:
            query = query.where(
                or_((Metric.epoch - 1) % stride == 0, Metric.epoch == last),
                Metric.epoch <= last,  # epochs committed since `last` was read stay out
            )
    by_name: dict[str, dict[int, float]] = {}
    epochs: set[int] = set()
    for epoch, name, value in session.execute(query):
        by_name.setdefault(name, {})[epoch] = value
        epochs.add(epoch)
    axis = sorted(epochs)
    series = {name: [values.get(e) for e in axis] for name, values in sorted(by_name.items())}
    return MetricSeries(epochs=axis, series=series)


def first_epoch_reaching(
    *, session: Session, run_ids: Sequence[int], key: str, threshold: float
) -> dict[int, int]:
    """Per run, the first epoch whose `key` is >= `threshold` (runs that never do are absent)."""
    if not run_ids:
        return {}
    query = (
        select(Metric.run_id, func.min(Metric.epoch))
        .where(Metric.run_id.in_(run_ids), Metric.name == key, Metric.value >= threshold)
        .group_by(Metric.run_id)
    )
    return {run_id: epoch for run_id, epoch in session.execute(query)}
