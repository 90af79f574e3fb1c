"""Per-epoch metric writes and reads, downsampled on the server."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    CompoundSelect,
    Double,
    Integer,
    Select,
    case,
    cast,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from models.metric_names import EPOCH_METRICS
from models.store.tables import Metric, Run
from models.store.upsert import upsert


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
    # Never backwards: a run trained again after its worker died rewrites earlier epochs.
    last = max(epochs)
    done = case((Run.epochs_done < last, last), else_=Run.epochs_done)
    session.execute(update(Run).where(Run.id == run_id).values(epochs_done=done))


def read_metrics(
    *,
    session: Session,
    run_id: int,
    keys: Sequence[str] | None = None,
    max_points: int | None = None,
) -> MetricSeries:
    """A run's curves, restricted to `keys` and downsampled to at most `max_points` epochs.

    Downsampling keeps each curve's shape: the epochs are cut into buckets, and every
    series keeps the epochs of its minimum and maximum in each bucket (plus the first and
    the last epoch); all series are returned at the union of those epochs. It runs in SQL
    over the (run_id, name, epoch) primary key, so a long history never leaves the database.
    """
    if max_points is not None and max_points < 2:
        raise ValueError("max_points must be at least 2 (the first and the last epoch)")
    query = select(Metric.epoch, Metric.name, Metric.value).where(Metric.run_id == run_id)
    if keys:
        query = query.where(Metric.name.in_(keys))
    if max_points is not None:
        last = session.scalar(select(Run.epochs_done).where(Run.id == run_id)) or 0
        buckets = (max_points - 2) // (2 * len(keys or EPOCH_METRICS))
        if last > max_points and buckets >= 1:
            dialect = session.get_bind().dialect.name
            # Fetched first: a list of ~max_points epochs lets the read below use the index.
            chosen = session.scalars(_extreme_epochs(dialect, run_id, keys, last, buckets))
            query = query.where(Metric.epoch.in_([1, last, *chosen]))
        elif last > max_points:  # too many series for min/max buckets: evenly spaced epochs
            stride = math.ceil((last - 1) / (max_points - 1))
            query = query.where(or_((Metric.epoch - 1) % stride == 0, Metric.epoch == last))
        query = query.where(Metric.epoch <= last)  # epochs committed since stay out
    by_name: dict[str, dict[int, float]] = {}
    epochs: set[int] = set()
    for epoch, name, value in session.execute(query):
        by_name.setdefault(name, {})[epoch] = value
        epochs.add(epoch)
    axis = sorted(epochs)
    series = {name: [values.get(e) for e in axis] for name, values in sorted(by_name.items())}
    return MetricSeries(epochs=axis, series=series)


def _extreme_epochs(
    dialect: str, run_id: int, keys: Sequence[str] | None, last: int, buckets: int
) -> Select[tuple[int]] | CompoundSelect[tuple[int]]:
    """Epochs where some series has its minimum or maximum within its bucket of epochs.

    One grouped pass, no sort: Postgres keeps (value, epoch) pairs in min()/max() of an
    array; SQLite returns a bare column from the row that holds a lone min() or max().
    """
    bucket = ((Metric.epoch - 1) * buckets) // last  # 0 .. buckets - 1
    rows = [Metric.run_id == run_id, Metric.epoch <= last]
    if keys:
        rows.append(Metric.name.in_(keys))
    if dialect == "postgresql":
        pair = postgresql.array((Metric.value, cast(Metric.epoch, Double)))
        ends = [type_coerce(f(pair), postgresql.ARRAY(Double))[2] for f in (func.min, func.max)]
        both = postgresql.array([cast(end, Integer) for end in ends])
        return select(func.unnest(both)).where(*rows).group_by(Metric.name, bucket)
    low, high = (
        select(Metric.epoch, f(Metric.value)).where(*rows).group_by(Metric.name, bucket).subquery()
        for f in (func.min, func.max)
    )
    return select(low.c.epoch).union(select(high.c.epoch))


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
