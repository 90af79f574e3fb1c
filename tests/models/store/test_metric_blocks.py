"""Metric blocks on SQLite and Postgres: they follow every write, rewrite and cut of the epochs,
and downsampled reads built on them keep each bucket's extremes."""

import math
from typing import Any

import pytest
from sqlalchemy.orm import Session

from models import store
from models.store.metric_blocks import BLOCK_WIDTHS
from tests.factories import create_run
from tests.models.store.blocks import (
    assert_blocks_match_epochs,
    order,
    read_with_sqlite_plans,
    stored_epochs,
)

ENV = {"framework": "torch", "framework_version": "2.5.1", "device": "cpu"}


def noise(epoch: int, seed: int = 0) -> float:
    """Distinct values in no order (a permutation of 0..100002), so extremes have no ties."""
    return float((epoch * 7919 + seed * 104729) % 100_003)


def write(session: Session, run_id: int, epochs: range, **series: Any) -> None:
    values = {e: {name: f(e) for name, f in series.items()} for e in epochs}
    store.record_epochs(session=session, run_id=run_id, epochs=values)


def test_blocks_follow_epochs_written_in_pieces(session: Session) -> None:
    run = create_run(session)
    # A NaN (the store sorts it above every number), a tie, one epoch at a time, then in bulk.
    odd = {5: math.nan, 6: 3.0, 7: 3.0}
    for epoch in range(1, 20):
        write(session, run.id, range(epoch, epoch + 1), a=lambda e: odd.get(e, float(e)))
    write(session, run.id, range(20, 1500), a=noise, b=lambda e: -noise(e, 1))
    write(session, run.id, range(1500, 5000), b=noise)
    assert_blocks_match_epochs(session, run.id)


def test_rewritten_epochs_leave_no_stale_extreme(session: Session) -> None:
    run = create_run(session)
    spike = 1e9
    write(session, run.id, range(1, 3001), a=lambda e: spike if e == 1234 else noise(e))
    # A lost worker's retraining writes earlier epochs again, lower.
    write(session, run.id, range(1000, 1300), a=lambda e: -noise(e))
    assert_blocks_match_epochs(session, run.id)
    curves = store.read_metrics(session=session, run_id=run.id, keys=["a"], max_points=100)
    assert spike not in curves.series["a"]
    assert min(curves.series["a"]) == -max(noise(e) for e in range(1000, 1300))  # type: ignore[type-var]


@pytest.mark.parametrize("resume_from", [0, 1, 700, 1024, 2000])
def test_a_resumed_attempt_cuts_the_blocks(session: Session, resume_from: int) -> None:
    run = create_run(session)
    store.claim_run(session=session, run_id=run.id, worker="w", lease_seconds=60)
    write(session, run.id, range(1, 2001), a=noise, b=lambda e: noise(e, 1))
    store.mark_started(
        session=session, run_id=run.id, worker="w", epoch=resume_from, environment=ENV
    )
    assert_blocks_match_epochs(session, run.id)
    assert max(stored_epochs(session, run.id)["a"], default=0) == resume_from
    write(session, run.id, range(resume_from + 1, 1501), a=lambda e: noise(e, 2))
    assert_blocks_match_epochs(session, run.id)


def expected_sample(epochs: dict[str, dict[int, float]], last: int, buckets: int) -> set[int]:
    """The documented choice: the first and last epoch, and per series and bucket the epochs
    of its minimum and maximum; a bucket is a run of whole blocks of the widest width that has
    at least `buckets` blocks in 1..last (single epochs if none has)."""
    width = max((w for w in BLOCK_WIDTHS if w * buckets <= last), default=1)
    count = -(-last // width)
    chosen = {1, last}
    for values in epochs.values():
        by_bucket: dict[int, list[int]] = {}
        for epoch in values:
            by_bucket.setdefault((epoch - 1) // width * buckets // count, []).append(epoch)
        for members in by_bucket.values():
            ranked = sorted(members, key=lambda e: order(values[e]))
            chosen |= {ranked[0], ranked[-1]}
    return chosen


@pytest.mark.parametrize(
    ("last", "max_points"),
    [
        (600, 400),  # too short for the finest blocks: buckets of single epochs
        (10_000, 202),  # 50 buckets of the 157 blocks of 64 epochs
        (10_000, 2_000),  # 499 buckets of the 625 blocks of 16
        (10_000, 6),  # one bucket: three blocks of 4,096, the last one partial
    ],
)
def test_downsampled_reads_keep_each_buckets_extremes(
    session: Session, last: int, max_points: int
) -> None:
    run = create_run(session)
    write(session, run.id, range(1, last + 1), x=noise, y=lambda e: noise(e, 1), z=float)
    curves = store.read_metrics(
        session=session, run_id=run.id, keys=["x", "y"], max_points=max_points
    )
    epochs = stored_epochs(session, run.id)
    wanted = {name: epochs[name] for name in ("x", "y")}
    assert curves.epochs == sorted(expected_sample(wanted, last, (max_points - 2) // 4))
    assert len(curves.epochs) <= max_points
    for name in ("x", "y"):
        assert curves.series[name] == [epochs[name][e] for e in curves.epochs]


def test_a_long_downsampled_read_searches_by_key(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("plans of a tiny Postgres table prefer a scan; bench/ checks Postgres")
    run = create_run(session)
    write(session, run.id, range(1, 5001), x=noise, y=float)
    curves, plans = read_with_sqlite_plans(session, run.id, keys=["x"], max_points=100)
    assert len(curves.epochs) > 50 and len(plans) == 2
    assert "SEARCH metric_block USING" in plans[0] and "SCAN metric" not in plans[0], plans
    assert "SEARCH metric USING" in plans[1] and "SCAN metric" not in plans[1], plans
