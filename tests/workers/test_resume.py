"""A run resumed from a checkpoint draws the curves an uninterrupted run would have drawn."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from models.blobs import BlobStore
from models.fingerprint import fingerprint
from models.spec import ExperimentSpec
from tests.factories import EpochLog, make_spec
from workers.backends import BACKEND_MODULES
from workers.checkpoints import Checkpoint, CheckpointStore, RunCheckpoints
from workers.environment import Environment
from workers.runner import Outcome, train

TIMINGS = {"epoch_seconds", "samples_per_second"}  # wall-clock figures differ by nature
SGD = {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True}
ADAM = {"name": "adam", "lr": 0.003}


class Attempt(EpochLog):
    """One call of `train` against a run's checkpoints, and what it produced."""

    def __init__(self, checkpoints: RunCheckpoints | None, stop_after: int | None) -> None:
        super().__init__()
        self.checkpoints = checkpoints
        self.stop_after = stop_after
        self.resumed: list[int] = []
        self.outcome: Outcome | None = None

    def resume_from(self) -> Checkpoint | None:
        return self.checkpoints.latest() if self.checkpoints else None

    def started(self, epoch: int, trained_seconds: float, environment: Environment) -> None:
        if self.checkpoints:
            self.checkpoints.starting(epoch)
        if epoch:
            self.resumed.append(epoch)

    def should_stop(self) -> bool:
        # Like a lost worker: stop once that epoch is recorded.
        return self.stop_after is not None and self.stop_after in self.epochs

    def checkpoint(self, epoch: int, snapshot: Callable[[], Checkpoint]) -> None:
        if self.checkpoints:
            self.checkpoints.after_epoch(epoch, snapshot)


def attempt(
    spec: ExperimentSpec,
    blobs: BlobStore | None,
    stop_after: int | None = None,
    identity: str | None = None,
) -> Attempt:
    """Train `spec`; with `stop_after`, stop (like a lost worker) once that epoch is recorded."""
    checkpoints = None
    if blobs is not None:
        checkpoints = RunCheckpoints(
            CheckpointStore(blobs, "checkpoints/run-1", identity or fingerprint(spec.model_dump())),
            every_epochs=1,
            min_seconds=0.0,
            before_save=lambda: None,
        )
    result = Attempt(checkpoints, stop_after)
    result.outcome = train(spec, threads=1, hooks=result)
    return result


def assert_same_epochs(got: Mapping[int, Mapping[str, float]], want: Attempt) -> None:
    for epoch, values in got.items():
        for name, value in values.items():
            if name not in TIMINGS:
                assert value == pytest.approx(want.epochs[epoch][name], abs=1e-6), (epoch, name)


def assert_same_summary(got: Outcome | None, want: Outcome | None) -> None:
    assert got is not None and want is not None
    assert set(got.summary) == set(want.summary)
    for name, value in want.summary.items():
        if name != "train_seconds":
            assert got.summary[name] == pytest.approx(value, abs=1e-6), name


def regularized(
    backend: str, optimizer: dict[str, Any], epochs: int, device: str = "cpu"
) -> ExperimentSpec:
    """Digits through an MLP with every regularizer on: all the state a checkpoint must hold."""
    return make_spec(
        backend=backend,
        device=device,
        dataset={"name": "digits", "n_samples": None},
        model={"kind": "mlp", "hidden": [32, 16]},
        optimizer=optimizer,
        regularization={
            "dropout": 0.2,
            "batchnorm": True,
            "l1": 1e-5,
            "l2": 1e-4,
            "weight_decay": 1e-3,
        },
        training={"epochs": epochs, "batch_size": 64},
    )


@pytest.mark.parametrize("optimizer", [ADAM, SGD], ids=["adam", "sgd-nesterov"])
@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_resumed_run_equals_uninterrupted_run(
    backend: str, optimizer: dict[str, Any], blobs: BlobStore
) -> None:
    spec = regularized(backend, optimizer, epochs=6)
    whole = attempt(spec, None)
    first = attempt(spec, blobs, stop_after=4)
    assert first.outcome is not None and first.outcome.stopped == "interrupted"
    # The 4th epoch's checkpoint is never written: the run stops right after the epoch.
    second = attempt(spec, blobs)
    assert second.resumed == [3]
    assert sorted(second.epochs) == [4, 5, 6]
    assert_same_epochs(first.epochs, whole)
    assert_same_epochs(second.epochs, whole)
    assert_same_summary(second.outcome, whole.outcome)


# Input noise draws from the generator that checkpoints must carry (with dropout's, on torch
# the same one); max-norm rescales kernels after every step; spatial dropout draws channel
# masks; mixup draws from its own numpy generator (`rng/mixup`), here beside dropout's and
# the noise's. A CNN, so max-norm has conv units and spatial dropout channels.
NEW_REGULARIZERS = {
    "input_noise": {"input_noise": 0.5, "dropout": 0.2},
    "max_norm": {"max_norm": 0.5, "weight_decay": 1e-3},
    "spatial_dropout": {"dropout": 0.3, "dropout_kind": "spatial"},
    "mixup": {"mixup": 0.4, "dropout": 0.2, "input_noise": 0.2, "label_smoothing": 0.1},
}


@pytest.mark.parametrize("recipe", sorted(NEW_REGULARIZERS))
@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_resume_is_exact_with_each_new_regularizer(
    backend: str, recipe: str, blobs: BlobStore
) -> None:
    spec = make_spec(
        backend=backend,
        dataset={"name": "digits", "n_samples": None},
        model={"kind": "cnn", "channels": [4], "hidden": [16], "pool": "max"},
        optimizer=ADAM,
        regularization=NEW_REGULARIZERS[recipe],
        training={"epochs": 5, "batch_size": 64},
    )
    whole = attempt(spec, None)
    attempt(spec, blobs, stop_after=3)
    second = attempt(spec, blobs)
    assert second.resumed == [2]
    assert sorted(second.epochs) == [3, 4, 5]
    assert_same_epochs(second.epochs, whole)
    assert_same_summary(second.outcome, whole.outcome)


def test_corrupt_newest_checkpoint_resumes_from_the_previous(tmp_path: Path) -> None:
    spec = regularized("torch", ADAM, epochs=6)
    whole = attempt(spec, None)
    blobs = BlobStore(str(tmp_path / "blobs"))
    attempt(spec, blobs, stop_after=4)
    newest = blobs.list_named("checkpoints/run-1")[-1]
    with blobs.open_named(newest) as stored:
        (tmp_path / "torn").write_bytes(stored.read(100))
    blobs.put_named(newest, tmp_path / "torn")
    second = attempt(spec, blobs)
    assert second.resumed == [2]
    assert sorted(second.epochs) == [3, 4, 5, 6]
    assert_same_epochs(second.epochs, whole)
    assert_same_summary(second.outcome, whole.outcome)


def test_early_stopping_state_survives_a_resume(tmp_path: Path) -> None:
    # val_loss falls ~0.03 an epoch, so with min_delta 0.06 about every other epoch counts as
    # stale. With patience 2 the run stops at the second stale epoch in a row, so the
    # checkpoint before it holds a count of 1: the resumed run stops at once only if the count
    # (and the best value) came back with it.
    spec = make_spec(
        training={
            "epochs": 40,
            "early_stopping": {"metric": "val_loss", "patience": 2, "min_delta": 0.06},
        },
        regularization={"dropout": 0.3},
    )
    whole = attempt(spec, None)
    stop = max(whole.epochs)
    assert 3 < stop < 40  # 15 here; 17 with torch 2.11 on another machine
    blobs = BlobStore(str(tmp_path))
    attempt(spec, blobs, stop_after=stop)
    second = attempt(spec, blobs)
    assert second.resumed == [stop - 1]
    assert sorted(second.epochs) == [stop]
    assert_same_summary(second.outcome, whole.outcome)


def test_checkpoint_that_does_not_fit_the_model_is_ignored(tmp_path: Path) -> None:
    # Same identity, other shapes: what a worker upgraded to another plan would find.
    small = make_spec(model={"kind": "mlp", "hidden": [8]}, training={"epochs": 3})
    blobs = BlobStore(str(tmp_path))
    attempt(small, blobs, identity="one run")
    spec = make_spec(model={"kind": "mlp", "hidden": [16]}, training={"epochs": 3})
    fresh = attempt(spec, blobs, identity="one run")
    assert fresh.resumed == []
    assert sorted(fresh.epochs) == [1, 2, 3]
    assert_same_epochs(fresh.epochs, attempt(spec, None))
