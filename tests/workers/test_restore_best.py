"""training.early_stopping.restore_best: the summary describes the best epoch's weights."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.blobs import BlobStore
from models.spec import ExperimentSpec
from tests.factories import EpochLog, make_spec
from tests.workers.test_resume import attempt
from workers.backends import BACKEND_MODULES
from workers.runner import Outcome, train

# Everything the weights decide; best_val_acc and best_epoch come from the curve, which a
# shorter run does not have, and train_seconds from the clock.
WEIGHT_FIGURES = {
    "test_loss",
    "test_acc",
    "train_eval_acc",
    "generalization_gap",
    "weight_l1",
    "weight_l2",
    "sparsity",
    "n_params",
}
STEEP_SGD = {"name": "sgd", "lr": 0.5, "momentum": 0.9}


def saturating_spec(backend: str, epochs: int, **rule: Any) -> ExperimentSpec:
    """val_acc reaches 1.0 at epoch 6 here: no later epoch improves on it (ties do not count)."""
    early_stopping = {"metric": "val_acc", "patience": 100, "restore_best": True, **rule}
    return make_spec(
        backend=backend,
        optimizer=STEEP_SGD,
        training={"epochs": epochs, "batch_size": 32, "early_stopping": early_stopping},
    )


def best_epoch_of(val_accs: list[float]) -> int:
    """The epoch the stopper keeps with min_delta 0: the first maximum."""
    return int(np.argmax(val_accs)) + 1


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_summary_is_that_of_a_run_stopped_at_the_best_epoch(backend: str) -> None:
    log = EpochLog()
    outcome = train(saturating_spec(backend, epochs=8), threads=1, hooks=log)
    val_accs = [log.epochs[e]["val_acc"] for e in sorted(log.epochs)]
    best = best_epoch_of(val_accs)
    assert outcome.model is not None and outcome.model.best is not None
    assert outcome.model.best_epoch == best
    assert best < 8, val_accs  # the case this test is about: the last epoch is not the best
    shorter = train(saturating_spec(backend, epochs=best, restore_best=False), threads=1)
    for name in WEIGHT_FIGURES:
        assert outcome.summary[name] == shorter.summary[name], name
    assert shorter.model is not None and shorter.model.best is None
    for name, value in outcome.model.best.items():
        assert np.array_equal(value, shorter.model.weights[name]), name
    final = outcome.model.weights
    assert any(not np.array_equal(final[k], v) for k, v in outcome.model.best.items())


def test_without_restore_best_the_summary_describes_the_last_epoch() -> None:
    kept = train(saturating_spec("torch", epochs=4, restore_best=False), threads=1)
    plain = train(
        make_spec(optimizer=STEEP_SGD, training={"epochs": 4, "batch_size": 32}), threads=1
    )
    assert kept.model is not None and kept.model.best is None
    for name in WEIGHT_FIGURES:
        assert kept.summary[name] == plain.summary[name], name


def assert_same(got: Outcome | None, want: Outcome | None) -> None:
    assert got is not None and want is not None
    assert got.model is not None and want.model is not None and want.model.best is not None
    assert got.model.best is not None and got.model.best_epoch == want.model.best_epoch
    for name, value in want.model.best.items():
        assert np.array_equal(got.model.best[name], value), name
    for name, value in want.summary.items():
        if name != "train_seconds":
            assert got.summary[name] == value, name


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_best_weights_survive_a_resume_exactly(backend: str, tmp_path: Path) -> None:
    spec = saturating_spec(backend, epochs=9)
    whole = attempt(spec, None)
    assert whole.outcome is not None and whole.outcome.model is not None
    best = whole.outcome.model.best_epoch
    # Resumed after epoch 7: the best epoch's weights come back from the checkpoint, not from
    # the weights the checkpoint continues with.
    assert best is not None and best < 7
    blobs = BlobStore(str(tmp_path / "blobs"))
    first = attempt(spec, blobs, stop_after=8)
    assert first.outcome is not None and first.outcome.stopped == "interrupted"
    second = attempt(spec, blobs)
    assert second.resumed == [7]
    assert_same(second.outcome, whole.outcome)
