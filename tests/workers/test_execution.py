"""Executing runs against the store: curves, summary, determinism, divergence, failures."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import torch
from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.metric_names import EPOCH_METRICS, SUMMARY_METRICS
from models.store.tables import DEFAULT_PROJECT_ID, RunStatus
from tests.factories import create_run, make_spec, run_to_end
from workers.execution import execute_run
from workers.run_policy import Deadline
from workers.runner import RunHooks

TIMINGS = {"epoch_seconds", "samples_per_second"}


def curves(session: Session, run_id: int) -> dict[str, list[float | None]]:
    return store.read_metrics(session=session, run_id=run_id).series


def test_run_succeeds_with_every_metric_and_summary(sessions: sessionmaker[Any]) -> None:
    run = run_to_end(sessions, training={"epochs": 3}, regularization={"l2": 1e-3})
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.epochs_done == 3
    with sessions() as session:
        series = curves(session, run.id)
    assert set(series) == set(EPOCH_METRICS)
    assert all(len(values) == 3 for values in series.values())
    assert all(v is not None and v > 0 for v in series["penalty"])
    assert run.summary is not None and set(run.summary) == set(SUMMARY_METRICS)
    gap = run.summary["train_eval_acc"] - run.summary["test_acc"]
    assert run.summary["generalization_gap"] == pytest.approx(gap)
    assert run.summary["n_params"] == 2 * 16 + 16 + 16 * 2 + 2


def test_same_spec_and_seed_give_identical_curves(sessions: sessionmaker[Any]) -> None:
    recipe = {"dropout": 0.3, "batchnorm": True, "l1": 1e-4, "weight_decay": 1e-2}
    first = run_to_end(sessions, training={"epochs": 4}, regularization=recipe)
    second = run_to_end(sessions, training={"epochs": 4}, regularization=recipe)
    with sessions() as session:
        a, b = curves(session, first.id), curves(session, second.id)
    for name in set(EPOCH_METRICS) - TIMINGS:
        assert a[name] == b[name], name
    other_seed = run_to_end(sessions, seed=1, training={"epochs": 4}, regularization=recipe)
    with sessions() as session:
        assert curves(session, other_seed.id)["train_loss"] != a["train_loss"]


def test_diverging_loss_fails_as_diverged_at_that_epoch(sessions: sessionmaker[Any]) -> None:
    run = run_to_end(
        sessions,
        optimizer={"name": "sgd", "lr": 10.0, "momentum": 0.99},
        model={"hidden": [64, 64]},
        training={"epochs": 30},
    )
    assert (run.status, run.error_type) == (RunStatus.FAILED, "diverged")
    assert run.error_epoch == run.epochs_done
    with sessions() as session:
        series = curves(session, run.id)
    assert series["train_loss"][-1] is None or series["train_loss"][-1] != series["train_loss"][-1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a worker without CUDA")
def test_unavailable_device_fails_readably(sessions: sessionmaker[Any]) -> None:
    run = run_to_end(sessions, device="cuda")
    assert (run.status, run.error_type) == (RunStatus.FAILED, "device_unavailable")
    assert run.error_message and "cuda" in run.error_message


def test_batchnorm_run_whose_last_batch_holds_one_example(sessions: sessionmaker[Any]) -> None:
    # 33 training examples in batches of 32: the single leftover joins the previous batch.
    run = run_to_end(
        sessions,
        dataset={"train_limit": 33},
        regularization={"batchnorm": True},
        training={"batch_size": 32},
    )
    assert run.status == RunStatus.SUCCEEDED, run.error_message


def test_an_exception_fails_the_run_readably_and_keeps_its_curves(
    sessions: sessionmaker[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def train_then_break(spec: Any, *, hooks: RunHooks, **_: Any) -> None:
        hooks.epoch_done(1, {"train_loss": 1.0})
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr("workers.execution.train", train_then_break)
    run = run_to_end(sessions)
    assert (run.status, run.error_type, run.error_epoch) == (RunStatus.FAILED, "exception", 2)
    assert run.error_message == "RuntimeError: the disk is on fire"
    assert run.epochs_done == 1


def test_second_delivery_does_not_train_again(sessions: sessionmaker[Any]) -> None:
    run = run_to_end(sessions)
    assert execute_run(run.id, sessions=sessions, threads=1, worker="again") == "skipped"
    with sessions() as session:
        again = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run.id)
        assert again is not None and again.attempts == 1


def test_two_deliveries_at_once_train_the_run_once(fresh_sessions: sessionmaker[Any]) -> None:
    with fresh_sessions.begin() as session:
        run_id = create_run(session, make_spec(training={"epochs": 3})).id
    start = threading.Barrier(2)

    def deliver(worker: str) -> str:
        start.wait()
        return execute_run(run_id, sessions=fresh_sessions, threads=1, worker=worker)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(deliver, ["a", "b"]))
    assert results == ["skipped", "succeeded"]
    with fresh_sessions() as session:
        run = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run_id)
        assert run is not None and (run.attempts, run.epochs_done) == (1, 3)


def test_time_trained_by_earlier_attempts_counts_against_the_limit() -> None:
    deadline = Deadline(3600.0)
    assert not deadline.passed()
    deadline.charge(3599.0)  # a resumed run that had trained for 3,599 s
    assert not deadline.passed()
    deadline.charge(1.0)
    assert deadline.passed()
