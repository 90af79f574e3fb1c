"""Early stopping: patience, min_delta and the direction of each monitored metric."""

from typing import Any

from sqlalchemy.orm import sessionmaker

from models.spec import EarlyStoppingSpec
from tests.factories import run_to_end
from workers.early_stopping import EarlyStopping


def stops_after(rule: EarlyStoppingSpec, values: list[float]) -> int | None:
    stopper = EarlyStopping(rule)
    for epoch, value in enumerate(values, start=1):
        if stopper.should_stop(value):
            return epoch
    return None


def test_loss_must_fall_by_more_than_min_delta() -> None:
    rule = EarlyStoppingSpec(metric="val_loss", patience=2, min_delta=0.1)
    assert stops_after(rule, [1.0, 0.95, 0.5, 0.45, 0.41]) == 5
    assert stops_after(rule, [1.0, 0.8, 0.6, 0.4, 0.2]) is None


def test_accuracy_must_rise() -> None:
    rule = EarlyStoppingSpec(metric="val_acc", patience=1)
    assert stops_after(rule, [0.5, 0.6, 0.6]) == 3
    assert stops_after(rule, [0.5, 0.4]) == 2


def test_run_stops_early_and_keeps_its_curves(sessions: sessionmaker[Any]) -> None:
    rule = {"metric": "val_loss", "patience": 2, "min_delta": 0.5}
    run = run_to_end(sessions, training={"epochs": 20, "early_stopping": rule})
    assert run.status == "succeeded"
    assert run.epochs_done == 3  # epoch 1 sets the best; 2 and 3 cannot improve by 0.5
    assert run.summary is not None and run.summary["best_epoch"] <= 3
