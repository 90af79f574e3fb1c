"""What `metric_block` must hold: the extremes of a run's stored epochs, recomputed in Python;
and the SQLite plans of a metric read."""

import math
from collections import defaultdict
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from models import store
from models.store.metric_blocks import BLOCK_WIDTHS
from models.store.metrics import MetricSeries
from models.store.tables import Metric, MetricBlock, Run

Block = tuple[str, int, int]  # name, width, block


def order(value: float) -> tuple[bool, float]:
    """Both stores sort NaN above every number."""
    return (math.isnan(value), 0.0 if math.isnan(value) else value)


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def stored_epochs(session: Session, run_id: int) -> dict[str, dict[int, float]]:
    """A run's epochs by series."""
    series: dict[str, dict[int, float]] = defaultdict(dict)
    rows = select(Metric.name, Metric.epoch, Metric.value).where(Metric.run_id == run_id)
    for name, epoch, value in session.execute(rows):
        series[name][epoch] = value
    return series


def assert_blocks_match_epochs(session: Session, run_id: int) -> None:
    """Every block of a width the run has reached holds the least and greatest value of its
    epochs, at an epoch holding it; there are no others."""
    expected: dict[Block, tuple[float, float]] = {}
    epochs = stored_epochs(session, run_id)
    done = session.scalar(select(Run.epochs_done).where(Run.id == run_id))
    assert done == max((max(values) for values in epochs.values()), default=0)
    for name, values in epochs.items():
        for width in (w for w in BLOCK_WIDTHS if w <= done):
            grouped: dict[int, list[float]] = defaultdict(list)
            for epoch, value in values.items():
                grouped[(epoch - 1) // width].append(value)
            for block, members in grouped.items():
                ranked = sorted(members, key=order)
                expected[(name, width, block)] = (ranked[0], ranked[-1])
    stored = session.scalars(select(MetricBlock).where(MetricBlock.run_id == run_id)).all()
    keys = {(b.name, b.width, b.block) for b in stored}
    assert keys == set(expected), sorted(keys ^ set(expected))[:10]
    for b in stored:
        low, high = expected[(b.name, b.width, b.block)]
        assert same(b.min_value, low) and same(b.max_value, high), (b.name, b.width, b.block)
        for epoch, value in ((b.min_epoch, b.min_value), (b.max_epoch, b.max_value)):
            assert (epoch - 1) // b.width == b.block
            assert same(epochs[b.name][epoch], value)


def read_with_sqlite_plans(
    session: Session, run_id: int, keys: list[str], max_points: int
) -> tuple[MetricSeries, list[str]]:
    """A downsampled read, and SQLite's plan of each statement it sent to `metric` or
    `metric_block`."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM metric" in statement:
            statements.append((statement, params))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    curves = store.read_metrics(session=session, run_id=run_id, keys=keys, max_points=max_points)
    event.remove(connection, "before_cursor_execute", capture)
    plans = [
        " | ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p))
        for s, p in statements
    ]
    return curves, plans
