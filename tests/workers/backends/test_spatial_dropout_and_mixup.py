"""Spatial dropout and mixup pinned on every backend: whole channels, mixing, seeding, eval.

Every test builds its trainer through the `Trainer` protocol, so a new backend is held to
the same rules by its registry line.
"""

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from models.spec.plan import Activation, ChannelsFirst, Conv, Dense, Dropout, Flatten, Plan
from tests.factories import plan_of
from tests.workers.backends.images import rgb_arrays
from workers.backends import BACKEND_MODULES, get_backend
from workers.backends.base import Trainer
from workers.backends.mixup import MixupDraws
from workers.datasets import DatasetArrays
from workers.init_weights import initial_weights

pytest.importorskip("tensorflow")

each_backend = pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
P = 0.5


def dropout_module(backend: str, op: Dropout, input_shape: tuple[int, ...]) -> Any:
    """The backend's module (torch, channels first) or layer (Keras, channels last) for `op`."""
    plan = plan_of([op], input_shape=input_shape, n_classes=1)
    if backend == "torch":
        from workers.backends.torch_backend import build_module

        return build_module(plan)
    from workers.backends.tensorflow_backend import build_model

    return build_model(plan)[0].layers[-1]  # the op's layer alone, past the Input


def run_dropout(backend: str, op: Dropout, x: np.ndarray, training: bool) -> np.ndarray:
    """Apply `op` to channels-first maps `x` (N, C, *spatial) in train or eval mode."""
    module = dropout_module(backend, op, x.shape[1:])
    if backend == "torch":
        import torch

        module.train(training)
        with torch.no_grad():
            return np.asarray(module(torch.from_numpy(x)).numpy())
    # Keras is channels-last after a conv: feed (N, *spatial, C), read it back channels first.
    last = np.moveaxis(x, 1, -1)
    out = np.asarray(module(last, training=training))
    return np.moveaxis(out, -1, 1)


@pytest.mark.parametrize("spatial", [1, 2])
@each_backend
def test_spatial_dropout_drops_whole_channels(backend: str, spatial: int) -> None:
    window = (6,) if spatial == 1 else (4, 5)
    x = np.random.default_rng(0).uniform(1.0, 2.0, size=(64, 8, *window)).astype(np.float32)
    out = run_dropout(backend, Dropout(P, spatial=spatial), x, training=True)
    maps = out.reshape(64, 8, -1)
    ratio = maps / x.reshape(64, 8, -1)
    dropped = np.all(maps == 0, axis=2)
    # Every (example, channel) map is all zeros or all scaled by 1/(1-p): never a mix.
    kept = np.all(np.isclose(ratio, 1 / (1 - P), rtol=1e-6), axis=2)
    assert np.all(dropped | kept)
    assert 0.35 < dropped.mean() < 0.65  # 512 maps at p = 0.5
    assert run_dropout(backend, Dropout(P, spatial=spatial), x, training=False) == pytest.approx(x)


@each_backend
def test_standard_dropout_on_the_same_maps_drops_single_units(backend: str) -> None:
    x = np.ones((64, 8, 4, 5), np.float32)
    maps = run_dropout(backend, Dropout(P), x, training=True).reshape(64, 8, -1)
    mixed = np.any(maps == 0, axis=2) & np.any(maps != 0, axis=2)
    assert mixed.mean() > 0.9  # what spatial dropout never does


def rgb_cnn(backend: str, alpha: float = 0.0, seed: int = 0, **reg: Any) -> Trainer:
    """A CNN on the 3x8x6 colour images with mixup `alpha`, the seed's weights."""
    plan: Plan = plan_of(
        (
            ChannelsFirst(3, (8, 6)),
            Conv(3, 4, 3, dims=2),
            Activation("relu"),
            Flatten(),
            Dense(192, 3),
        ),
        input_shape=(3, 8, 6),
        n_classes=3,
        optimizer={"name": "sgd", "lr": 0.05},
        regularization={"mixup": alpha, **reg},
        training={"batch_size": 32},
    )
    plan = replace(plan, seed=seed)
    return get_backend(backend).create_trainer(
        plan, rgb_arrays(), initial_weights(plan, 0), "cpu", 1
    )


def train_twice(trainer: Trainer, data: DatasetArrays) -> list[tuple[float, float]]:
    rng = np.random.default_rng(1)
    epochs = [trainer.train_epoch(rng.permutation(len(data.train))) for _ in range(2)]
    return [(e.loss, e.acc) for e in epochs]


@each_backend
def test_mixup_changes_training_not_evaluation(backend: str) -> None:
    data = rgb_arrays()
    mixed, plain = rgb_cnn(backend, 0.4), rgb_cnn(backend)
    assert mixed.evaluate("val") == plain.evaluate("val")  # same weights, nothing mixed
    mixed_curve = train_twice(mixed, data)
    assert [loss for loss, _ in mixed_curve] != pytest.approx(
        [loss for loss, _ in train_twice(plain, data)], rel=1e-3
    )
    # Evaluation of the mixup run's weights is that of the same weights trained without it.
    plain.load_weights(mixed.weights())
    assert mixed.evaluate("val") == plain.evaluate("val")
    assert mixed.evaluate("train") == plain.evaluate("train")


@each_backend
def test_mixup_is_a_function_of_the_seed(backend: str) -> None:
    data = rgb_arrays()

    def run(seed: int) -> tuple[list[tuple[float, float]], dict[str, np.ndarray]]:
        trainer = rgb_cnn(backend, 1.0, seed)
        return train_twice(trainer, data), trainer.weights()

    curve, weights = run(0)
    again, weights_again = run(0)
    assert again == curve
    for name, value in weights.items():
        np.testing.assert_array_equal(weights_again[name], value)
    other, _ = run(1)  # same initial weights, other draws
    assert [loss for loss, _ in other] != pytest.approx([loss for loss, _ in curve], rel=1e-4)


@each_backend
def test_mixup_draws_the_same_on_every_backend(backend: str) -> None:
    # The draws come from numpy, not the framework: with nothing else random, a mixup run's
    # curve is the reference backend's to float32 rounding (unlike dropout's or the noise's).
    data = rgb_arrays()
    ours, reference = (
        train_twice(rgb_cnn(backend, 0.4), data),
        train_twice(rgb_cnn("torch", 0.4), data),
    )
    assert [loss for loss, _ in ours] == pytest.approx([loss for loss, _ in reference], rel=1e-5)


def test_mixup_draws_resume_from_their_state() -> None:
    first = MixupDraws(0.4, seed=7)
    first.draw(5)
    saved = first.state()
    assert saved.dtype == np.uint64 and saved.shape == (6,)
    after = [first.draw(9) for _ in range(3)]
    resumed = MixupDraws(0.4, seed=7)
    resumed.load_state(saved)
    for want in after:
        got = resumed.draw(9)
        assert (got.lam, got.rest) == (want.lam, want.rest)
        np.testing.assert_array_equal(got.perm, want.perm)
        assert got.lam + got.rest == np.float32(1.0)


def test_mixup_lambda_follows_beta_alpha_alpha() -> None:
    draws = MixupDraws(0.2, seed=0)
    lams = np.array([float(draws.draw(4).lam) for _ in range(4000)])
    # Beta(0.2, 0.2): mean 1/2, variance 1 / (4 * (2 * 0.2 + 1)) = 0.179; U-shaped.
    assert lams.mean() == pytest.approx(0.5, abs=0.03)
    assert lams.var() == pytest.approx(1 / (4 * 1.4), rel=0.05)
    assert ((lams < 0.1) | (lams > 0.9)).mean() > 0.5


@pytest.mark.parametrize("source", sorted(BACKEND_MODULES))
def test_spatial_dropout_keeps_weight_names_across_backends(source: str) -> None:
    # One module/layer per op: a spatial dropout between the conv and the flatten must not
    # shift the layers that `layers.<i>.<kind>` names point at (here layers.5.dense).
    data = rgb_arrays()
    plan = plan_of(
        (
            ChannelsFirst(3, (8, 6)),
            Conv(3, 4, 3, dims=2),
            Activation("relu"),
            Dropout(0.3, spatial=2),
            Flatten(),
            Dense(192, 3),
        ),
        input_shape=(3, 8, 6),
        n_classes=3,
        optimizer={"name": "sgd", "lr": 0.05},
        training={"batch_size": 32},
    )
    trainers = {
        backend: get_backend(backend).create_trainer(plan, data, initial_weights(plan, 0), "cpu", 1)
        for backend in BACKEND_MODULES
    }
    trained = trainers[source]
    train_twice(trained, data)
    weights = trained.weights()
    assert sorted(weights) == [
        "layers.1.conv.bias",
        "layers.1.conv.kernel",
        "layers.5.dense.bias",
        "layers.5.dense.kernel",
    ]
    for trainer in trainers.values():
        trainer.load_weights(weights)
        assert trainer.evaluate("val").loss == pytest.approx(trained.evaluate("val").loss, rel=1e-5)
