"""Reads of many runs at once (a compare of up to 100): one statement for all of them rather
than one per run, which is where a 100-run view spends its time otherwise."""

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from models.store.metrics import IN_CHUNK, MetricSeries
from models.store.tables import Metric, Run

# Per run, per series, its epochs (in order) and its values at them.
Curves = dict[int, dict[str, tuple[list[int], list[float]]]]


def get_runs(*, session: Session, project_id: int, run_ids: Collection[int]) -> dict[int, Run]:
    """The project's runs among these ids, by id (missing and foreign ones left out)."""
    query = select(Run).where(Run.id.in_(run_ids), Run.project_id == project_id)
    return {run.id: run for run in session.scalars(query)}


def _series_rows(
    dialect: str,
    run_ids: Collection[int],
    keys: Sequence[str] | None,
    epochs: Collection[int] | None,
) -> Select[Any]:
    """(run_id, name, epochs, values) per series on Postgres, whose arrays spare the client
    a row per value (60,000 rows for 100 runs x 200 epochs x 3 series); a row per value
    elsewhere."""
    metric = Metric.__table__.c  # Core columns: no per-row ORM work
    where = [metric.run_id.in_(run_ids), *([metric.name.in_(keys)] if keys else [])]
    if epochs is not None:
        where.append(metric.epoch.in_(epochs))
    if dialect != "postgresql":
        rows = select(metric.run_id, metric.name, metric.epoch, metric.value).where(*where)
        return rows.order_by(metric.run_id, metric.name, metric.epoch)
    in_order = [aggregate_order_by(column, metric.epoch) for column in (metric.epoch, metric.value)]
    columns = [func.array_agg(ordered) for ordered in in_order]
    return (
        select(metric.run_id, metric.name, *columns)
        .where(*where)
        .group_by(metric.run_id, metric.name)
    )


def _collect(rows: Iterable[Any], grouped: bool, curves: Curves) -> Curves:
    for run_id, name, epochs, values in rows:
        if grouped:
            curves[run_id][name] = (epochs, values)
        else:
            in_order = curves[run_id].setdefault(name, ([], []))
            in_order[0].append(epochs)
            in_order[1].append(values)
    return curves


def read_whole_metrics(
    *,
    session: Session,
    run_ids: Collection[int],
    keys: Sequence[str] | None = None,
    epochs: Collection[int] | None = None,
) -> dict[int, MetricSeries]:
    """Every epoch of these runs' curves (or only `epochs`, at most IN_CHUNK of them),
    restricted to `keys`, each run's series aligned on its own epochs as `read_metrics`
    returns them (for short runs: nothing to downsample)."""
    assert epochs is None or len(epochs) <= IN_CHUNK, "one IN list of epochs per statement"
    dialect = session.get_bind().dialect.name
    rows = session.execute(_series_rows(dialect, run_ids, keys, epochs)).all()
    curves = _collect(rows, dialect == "postgresql", {run_id: {} for run_id in run_ids})
    return {run_id: _aligned(by_name) for run_id, by_name in curves.items()}


def _aligned(by_name: dict[str, tuple[list[int], list[float]]]) -> MetricSeries:
    """A run's series on one epoch axis; as they are when they share their epochs (most
    often), else with None where a series has no value."""
    axes = [epochs for epochs, _ in by_name.values()]
    if all(epochs == axes[0] for epochs in axes):
        values: dict[str, list[float | None]] = {n: list(v) for n, (_, v) in by_name.items()}
        return MetricSeries(epochs=axes[0] if axes else [], series=dict(sorted(values.items())))
    axis = sorted(set().union(*axes))
    found = {name: dict(zip(*pair, strict=True)) for name, pair in sorted(by_name.items())}
    return MetricSeries(axis, {name: [v.get(e) for e in axis] for name, v in found.items()})
