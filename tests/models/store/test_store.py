"""The store on SQLite and Postgres: runs, claims, metrics (NaN included), pagination."""

import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import store
from models.store import RunError
from models.store.tables import DEFAULT_PROJECT_ID, Metric, RunStatus
from tests.factories import create_run
from tests.models.store.blocks import read_with_sqlite_plans

OTHER_PROJECT = 999
ENV = {"framework": "torch", "framework_version": "2.5.1", "device": "cpu", "reglab_version": None}


def test_claim_is_conditional(session: Session) -> None:
    run = create_run(session)
    assert store.claim_run(session=session, run_id=run.id, worker="a", lease_seconds=60)
    assert not store.claim_run(session=session, run_id=run.id, worker="b", lease_seconds=60)
    session.refresh(run)
    assert (run.status, run.worker, run.attempts) == (RunStatus.RUNNING, "a", 1)


def test_epoch_writes_are_idempotent_and_keep_nan(session: Session) -> None:
    run = create_run(session)
    store.record_epochs(session=session, run_id=run.id, epochs={1: {"a": 1.0, "b": 2.0}})
    store.record_epochs(session=session, run_id=run.id, epochs={1: {"a": 1.5, "b": 2.0}})
    store.record_epochs(session=session, run_id=run.id, epochs={2: {"a": math.nan}})
    count = session.scalar(select(func.count()).where(Metric.run_id == run.id))
    assert count == 3
    curves = store.read_metrics(session=session, run_id=run.id)
    assert curves.epochs == [1, 2]
    assert curves.series["a"][0] == 1.5
    assert math.isnan(curves.series["a"][1] or 0.0)
    assert curves.series["b"] == [2.0, None]
    session.refresh(run)
    assert run.epochs_done == 2


def test_downsampling_keeps_each_curves_extremes(session: Session) -> None:
    run = create_run(session)
    # A smooth rise with one spike, and a noisy series whose extremes sit in odd places.
    rise = {e: float(e) + (500.0 if e == 537 else 0.0) for e in range(1, 1001)}
    noise = {e: float((e * 7919) % 1009) for e in range(1, 1001)}
    epochs = {e: {"x": rise[e], "y": noise[e], "z": 0.0} for e in range(1, 1001)}
    store.record_epochs(session=session, run_id=run.id, epochs=epochs)
    curves = store.read_metrics(session=session, run_id=run.id, keys=["x", "y"], max_points=50)
    assert list(curves.series) == ["x", "y"]
    assert len(curves.epochs) <= 50 and curves.epochs[0] == 1 and curves.epochs[-1] == 1000
    assert 537 in curves.epochs  # the spike survives
    assert max(curves.series["y"]) == max(noise.values())  # type: ignore[type-var]
    assert min(curves.series["y"]) == min(noise.values())  # type: ignore[type-var]
    assert curves.series["x"] == [rise[e] for e in curves.epochs]
    assert curves.series["y"] == [noise[e] for e in curves.epochs]
    everything = store.read_metrics(session=session, run_id=run.id, max_points=1000)
    assert len(everything.epochs) == 1000 and set(everything.series) == {"x", "y", "z"}


def test_finish_writes_summary_and_error(session: Session) -> None:
    run = create_run(session)
    store.claim_run(session=session, run_id=run.id, worker="w", lease_seconds=60)
    store.finish_run(
        session=session,
        run_id=run.id,
        worker="w",
        status=RunStatus.FAILED,
        summary={"test_acc": 0.5, "gap": math.nan},
        error=RunError("diverged", "boom", 3),
    )
    session.expire_all()
    loaded = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run.id)
    assert loaded is not None
    assert (loaded.status, loaded.error_type, loaded.error_epoch) == ("failed", "diverged", 3)
    assert loaded.summary is not None and loaded.summary["test_acc"] == 0.5
    assert math.isnan(loaded.summary["gap"])


def test_finish_only_moves_running_runs(session: Session) -> None:
    run = create_run(session)
    done = {"status": RunStatus.SUCCEEDED, "summary": {"test_acc": 1.0}}
    assert not store.finish_run(session=session, run_id=run.id, worker="w", **done)
    session.expire_all()
    assert run.summary is None
    session.refresh(run)
    assert run.status == RunStatus.QUEUED


def test_a_worker_that_lost_its_run_cannot_finish_it(session: Session) -> None:
    run = create_run(session)
    store.claim_run(session=session, run_id=run.id, worker="a", lease_seconds=60)
    # a's lease lapses; the reconciler queues the run and b claims it
    run.status = RunStatus.QUEUED
    session.flush()
    store.claim_run(session=session, run_id=run.id, worker="b", lease_seconds=60)
    cancelled = {"status": RunStatus.CANCELLED}
    assert not store.finish_run(session=session, run_id=run.id, worker="a", **cancelled)
    assert store.finish_run(session=session, run_id=run.id, worker="b", **cancelled)


def test_lookups_are_scoped_by_project(session: Session) -> None:
    run = create_run(session)
    assert store.get_run(session=session, project_id=OTHER_PROJECT, run_id=run.id) is None
    assert (
        store.get_experiment(
            session=session, project_id=OTHER_PROJECT, experiment_id=run.experiment_id
        )
        is None
    )


def test_pagination_walks_everything_newest_first(session: Session) -> None:
    ids = [create_run(session, name=f"e{i}").experiment_id for i in range(7)]
    seen: list[int] = []
    cursor = None
    while True:
        page = store.list_experiments(
            session=session, project_id=DEFAULT_PROJECT_ID, limit=3, cursor=cursor
        )
        assert page.total == 7
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_metric_reads_search_the_primary_key(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("plans of a tiny Postgres table prefer a scan; bench/ checks Postgres")
    run = create_run(session)
    store.record_epochs(
        session=session, run_id=run.id, epochs={e: {"x": float(e)} for e in range(1, 301)}
    )
    _, plans = read_with_sqlite_plans(session, run.id, keys=["x"], max_points=50)
    assert plans
    for plan in plans:
        assert "SEARCH metric USING" in plan and "SCAN metric" not in plan, plan


def test_lapsed_leases_requeue_then_fail_as_worker_lost(session: Session) -> None:
    run = create_run(session)
    later = run.created_at + timedelta(hours=1)
    for attempt in (1, 2):
        assert store.claim_run(
            session=session, run_id=run.id, worker=f"w{attempt}", lease_seconds=5
        )
        assert store.expire_leases(session=session, now=run.created_at, max_attempts=2) == []
        requeued = store.expire_leases(session=session, now=later, max_attempts=2)
        if attempt == 1:
            assert requeued == [run] and (run.status, run.worker) == (RunStatus.QUEUED, None)
    assert requeued == [] and (run.status, run.error_type) == (RunStatus.FAILED, "worker_lost")
    assert run.attempts == 2 and "w2" in (run.error_message or "")


def test_renewal_keeps_the_lease_only_for_its_worker(session: Session) -> None:
    run = create_run(session)
    store.claim_run(session=session, run_id=run.id, worker="w", lease_seconds=5)
    session.refresh(run)
    first = run.lease_expires_at
    assert store.renew_lease(session=session, run_id=run.id, worker="w", lease_seconds=600)
    session.refresh(run)
    assert run.lease_expires_at is not None and first is not None and run.lease_expires_at > first
    assert not store.renew_lease(session=session, run_id=run.id, worker="other", lease_seconds=600)


def test_long_queued_and_unsent_runs_are_sent_again(session: Session) -> None:
    run, unsent = create_run(session), create_run(session)
    session.flush()
    sent = run.queued_at
    assert store.resend_queued(session=session, now=sent, sent_before=sent) == []
    later = sent + timedelta(seconds=61)
    resend = store.resend_queued(session=session, now=later, sent_before=later, ids=[unsent.id])
    assert {r.id for r in resend} == {run.id, unsent.id}
    assert run.queued_at == later  # not sent again on the next pass
    again = later + timedelta(seconds=1)
    assert store.resend_queued(session=session, now=again, sent_before=later) == []
    assert store.resend_queued(session=session, now=again, sent_before=later, ids=[unsent.id]) == [
        unsent
    ]


def test_a_resumed_attempt_drops_the_lost_attempts_later_epochs(session: Session) -> None:
    run = create_run(session)
    store.claim_run(session=session, run_id=run.id, worker="a", lease_seconds=60)
    epochs = {epoch: {"val_acc": epoch / 10} for epoch in range(1, 8)}
    store.record_epochs(session=session, run_id=run.id, epochs=epochs)
    store.mark_started(
        session=session, run_id=run.id, worker="b", epoch=5, environment=ENV
    )  # not b's run
    session.refresh(run)
    assert (run.epochs_done, run.resumed_from_epoch) == (7, None)
    store.mark_started(session=session, run_id=run.id, worker="a", epoch=5, environment=ENV)
    session.refresh(run)
    assert (run.epochs_done, run.resumed_from_epoch) == (5, 5)
    assert store.read_metrics(session=session, run_id=run.id).epochs == [1, 2, 3, 4, 5]


def test_mark_started_records_the_attempts_environment(session: Session) -> None:
    run = create_run(session)
    assert run.environment is None
    store.claim_run(session=session, run_id=run.id, worker="a", lease_seconds=60)
    store.mark_started(session=session, run_id=run.id, worker="b", epoch=0, environment=ENV)
    session.refresh(run)
    assert run.environment is None  # not b's run
    store.mark_started(session=session, run_id=run.id, worker="a", epoch=0, environment=ENV)
    session.refresh(run)
    assert run.environment == ENV
    gpu = {**ENV, "device": "NVIDIA H200", "threads": 8}  # a later attempt elsewhere
    store.mark_started(session=session, run_id=run.id, worker="a", epoch=3, environment=gpu)
    session.refresh(run)
    assert (run.environment, run.resumed_from_epoch) == (gpu, 3)
