"""Per-epoch metric writes and reads, downsampled on the server."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from models.metric_names import EPOCH_METRICS
from models.store.metric_blocks import bucket_extremes, drop_blocks_after, refresh_blocks
from models.store.tables import Metric, Run
from models.store.upsert import upsert

# Epochs per `IN (...)` of a read: drivers bound the parameters of one statement.
IN_CHUNK = 5000


@dataclass(frozen=True)
class MetricSeries:
    """Curves aligned on a shared epoch axis; None where a series has no value at an epoch."""

    epochs: list[int]
    series: dict[str, list[float | None]]


def record_epochs(
    *, session: Session, run_id: int, epochs: Mapping[int, Mapping[str, float]]
) -> None:
    """Write whole epochs' metrics and their blocks, and advance the run's `epochs_done`."""
    if not epochs:
        return
    # The run's row first, locked: a second writer of its epochs (a lost worker still
    # running) waits for this commit, so neither computes blocks without the other's epochs.
    locked = select(Run.epochs_done).where(Run.id == run_id).with_for_update()
    done = session.scalar(locked) or 0
    rows = [
        {"run_id": run_id, "name": name, "epoch": epoch, "value": value}
        for epoch, values in epochs.items()
        for name, value in values.items()
    ]
    upsert(session=session, table=Metric, rows=rows, keys=("run_id", "name", "epoch"))
    names = sorted({name for values in epochs.values() for name in values})
    first, last = min(epochs), max(epochs)
    refresh_blocks(session=session, run_id=run_id, first=first, last=last, done=done, names=names)
    # Never backwards: a run trained again after its worker died rewrites earlier epochs.
    if last > done:
        session.execute(update(Run).where(Run.id == run_id).values(epochs_done=last))


def drop_epochs_after(*, session: Session, run_id: int, epoch: int) -> None:
    """Delete a run's metrics after `epoch` (a lost attempt's), and fit its blocks to the rest."""
    session.execute(delete(Metric).where(Metric.run_id == run_id, Metric.epoch > epoch))
    drop_blocks_after(session=session, run_id=run_id, epoch=epoch)


def read_metrics(
    *,
    session: Session,
    run_id: int,
    keys: Sequence[str] | None = None,
    max_points: int | None = None,
) -> MetricSeries:
    """A run's curves, restricted to `keys` and downsampled to at most `max_points` epochs.

    Downsampling keeps each curve's shape: the epochs are cut into buckets (runs of whole
    aligned blocks of epochs), and every series keeps the epochs of its minimum and maximum
    in each bucket (plus the first and the last epoch); all series are returned at the union
    of those epochs. The extremes come from `metric_block`, kept as epochs are written, so a
    long history is read as a few hundred blocks, never row by row.
    """
    if max_points is not None and max_points < 2:
        raise ValueError("max_points must be at least 2 (the first and the last epoch)")
    found: dict[str, dict[int, float]] = {}
    query = select(Metric.epoch, Metric.name, Metric.value).where(Metric.run_id == run_id)
    if keys:
        query = query.where(Metric.name.in_(keys))
    queries = [query]
    if max_points is not None:
        last = session.scalar(select(Run.epochs_done).where(Run.id == run_id)) or 0
        queries = [query := query.where(Metric.epoch <= last)]  # later commits stay out
        if last > max_points:
            found, epochs = _sample(session, run_id, keys, last, max_points)
            # What choosing the epochs did not read: the ends, other series at those epochs.
            known = set.intersection(*map(set, found.values())) if found else set()
            gaps = sorted(epochs - known)
            chunks = (gaps[i : i + IN_CHUNK] for i in range(0, len(gaps), IN_CHUNK))
            queries = [query.where(Metric.epoch.in_(chunk)) for chunk in chunks]
    for chosen in queries:
        for epoch, name, value in session.execute(chosen):
            found.setdefault(name, {})[epoch] = value
    axis = sorted(set().union(*found.values()))
    series = {name: [values.get(e) for e in axis] for name, values in sorted(found.items())}
    return MetricSeries(epochs=axis, series=series)


def evenly_spaced(last: int, max_points: int) -> list[int]:
    """At most `max_points` (>= 2) epochs of 1..last, evenly spaced, the first and last among
    them."""
    stride = max(1, math.ceil((last - 1) / (max_points - 1)))
    return sorted({*range(1, last + 1, stride), last})


def _sample(
    session: Session, run_id: int, keys: Sequence[str] | None, last: int, max_points: int
) -> tuple[dict[str, dict[int, float]], set[int]]:
    """The epochs a downsampled read returns, and the values found while choosing them."""
    buckets = (max_points - 2) // (2 * len(keys or EPOCH_METRICS))
    if buckets < 1:  # too many series for min/max buckets: evenly spaced epochs
        return {}, set(evenly_spaced(last, max_points))
    found = bucket_extremes(session=session, run_id=run_id, keys=keys, last=last, buckets=buckets)
    return found, {1, last}.union(*found.values())


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
