"""max_norm and input_noise pinned on every backend: kernel axes, order, noise scale and seeding.

Every test builds its trainer through the `Trainer` protocol, so a new backend is held to
the same formulas by its registry line.
"""

from dataclasses import replace
from math import pi, sqrt

import numpy as np
import pytest

from models.spec.plan import Activation, ChannelsFirst, Conv, Dense, Flatten, Plan
from tests.factories import plan_of
from tests.workers.backends.images import rgb_arrays
from workers.backends import BACKEND_MODULES, get_backend
from workers.backends.base import Trainer
from workers.datasets import DatasetArrays, Split
from workers.init_weights import LayerWeights, initial_weights

pytest.importorskip("tensorflow")

each_backend = pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
LIMIT = 1.0
CONV_KERNEL = "layers.1.conv.kernel"
DENSE_KERNEL = "layers.4.dense.kernel"
# (2, 5, 5) images -> Conv 2->3 (3x3, same) -> ReLU -> Flatten -> Dense 75 -> 4.
OPS = (ChannelsFirst(2, (5, 5)), Conv(2, 3, 3, dims=2), Activation("relu"), Flatten(), Dense(75, 4))


def trainer_of(
    backend: str, plan: Plan, data: DatasetArrays, weights: list[LayerWeights]
) -> Trainer:
    return get_backend(backend).create_trainer(plan, data, weights, "cpu", 1)


def unit_norms(kernel: np.ndarray) -> np.ndarray:
    """Norm of each unit's incoming vector in the neutral layout (output unit first)."""
    return np.sqrt(np.square(kernel.astype(np.float64)).reshape(len(kernel), -1).sum(axis=1))


def max_normed(kernel: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """`kernel` with the vectors along `axes` scaled down to norm LIMIT where longer."""
    norms = np.sqrt(np.square(kernel.astype(np.float64)).sum(axis=axes, keepdims=True))
    return kernel * np.minimum(1.0, LIMIT / norms)


def skewed_weights() -> list[LayerWeights]:
    """Output channels/units of very different norms (0.05 to 4.1), so only the right axes fit."""
    rng = np.random.default_rng(3)
    conv = rng.normal(size=(3, 2, 3, 3)) * np.array([3.0, 0.2, 1.5]).reshape(3, 1, 1, 1) / 4
    dense = rng.normal(size=(4, 75)) * np.array([0.4, 2.0, 0.05, 1.2]).reshape(4, 1) / 8
    return [
        LayerWeights(kernel=conv.astype(np.float32), bias=np.zeros(3, np.float32)),
        LayerWeights(kernel=dense.astype(np.float32), bias=np.full(4, 5.0, np.float32)),
    ]


@each_backend
def test_max_norm_scales_each_unit_over_its_inputs(backend: str) -> None:
    # Zero inputs and zero conv biases give both kernels zero gradients: one SGD step leaves
    # them as max-norm makes them. Torch keeps kernels (out, in, kh, kw), Keras (kh, kw, in,
    # out); a norm over the wrong axes (Keras' MaxNorm default, axis 0) gives other kernels.
    plan = plan_of(
        OPS,
        input_shape=(2, 5, 5),
        n_classes=4,
        optimizer={"name": "sgd", "lr": 0.1},
        regularization={"max_norm": LIMIT},
        training={"batch_size": 8},
    )
    split = Split(x=np.zeros((8, 2, 5, 5), np.float32), y=np.arange(8) % 4)
    weights = skewed_weights()
    trainer = trainer_of(backend, plan, DatasetArrays(split, split, split, n_classes=4), weights)
    trainer.train_epoch(np.arange(8))
    got = trainer.weights()
    conv, dense = (w.kernel for w in weights)
    np.testing.assert_allclose(got[CONV_KERNEL], max_normed(conv, (1, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(got[DENSE_KERNEL], max_normed(dense, (1,)), rtol=1e-6)
    assert unit_norms(got[CONV_KERNEL]) == pytest.approx(
        [LIMIT, unit_norms(conv)[1], LIMIT], rel=1e-6
    )
    # The test tells the axes apart: Keras' default axis 0 (kh here) would give another kernel.
    assert not np.allclose(max_normed(conv, (2,)), max_normed(conv, (1, 2, 3)), rtol=1e-3)
    assert not np.allclose(max_normed(dense, (0,)), max_normed(dense, (1,)), rtol=1e-3)
    # Biases are never constrained: 5 is far above the limit and moves by one small step only.
    np.testing.assert_allclose(got["layers.4.dense.bias"], 5.0, atol=0.1)


@each_backend
def test_max_norm_holds_every_unit_after_training(backend: str) -> None:
    data = rgb_arrays()
    plan = plan_of(
        (
            ChannelsFirst(3, (8, 6)),
            Conv(3, 4, 3, dims=2),
            Activation("relu"),
            Flatten(),
            Dense(192, 16),
            Activation("relu"),
            Dense(16, 3),
        ),
        input_shape=(3, 8, 6),
        n_classes=3,
        optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
        regularization={"max_norm": 0.5},
        training={"batch_size": 32},
    )
    trainer = trainer_of(backend, plan, data, initial_weights(plan, 0))
    rng = np.random.default_rng(0)
    for _ in range(2):
        trainer.train_epoch(rng.permutation(len(data.train)))
    kernels = {name: w for name, w in trainer.weights().items() if name.endswith("kernel")}
    assert len(kernels) == 3
    norms = np.concatenate([unit_norms(w) for w in kernels.values()])
    assert norms.max() <= 0.5 * (1 + 1e-6)
    assert (norms > 0.5 * (1 - 1e-6)).mean() > 0.5  # the constraint binds for most units


def noisy_pair_loss(sigma: float) -> float:
    """E[softplus(-2 sigma Z)], Z standard normal: the cross-entropy of class 0 under logits
    (eps, -eps) with eps ~ N(0, sigma^2), by the trapezoid rule."""
    z = np.linspace(-10.0, 10.0, 20_001)
    density = np.exp(-(z**2) / 2) / sqrt(2 * pi)
    values = np.logaddexp(0.0, -2.0 * sigma * z) * density
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(z)))


@pytest.mark.parametrize("sigma", [0.5, 2.0])
@each_backend
def test_input_noise_has_the_spec_std(backend: str, sigma: float) -> None:
    # One input fixed at 0 through Dense(1 -> 2) with kernel (1, -1): the logits are (eps,
    # -eps) for the noise eps, so the first batch's loss (before any update) measures sigma.
    n = 4096
    plan = plan_of(
        [Dense(1, 2)],
        input_shape=(1,),
        n_classes=2,
        optimizer={"name": "sgd", "lr": 1e-6},
        regularization={"input_noise": sigma},
        training={"batch_size": n},
    )
    split = Split(x=np.zeros((n, 1), np.float32), y=np.zeros(n, np.int64))
    weights = [
        LayerWeights(kernel=np.array([[1.0], [-1.0]], np.float32), bias=np.zeros(2, np.float32))
    ]
    trainer = trainer_of(backend, plan, DatasetArrays(split, split, split, n_classes=2), weights)
    assert trainer.evaluate("val").loss == pytest.approx(np.log(2.0), rel=1e-5)  # clean inputs
    loss = trainer.train_epoch(np.arange(n)).loss
    spread = sigma / sqrt(n) * 4  # softplus is 1-Lipschitz in eps: 4 standard errors, loosely
    assert loss == pytest.approx(noisy_pair_loss(sigma), abs=2 * spread)
    assert abs(loss - noisy_pair_loss(sigma / 2)) > 2 * spread  # the std, not the variance


def rgb_mlp(backend: str, noise: float, seed: int = 0) -> tuple[Trainer, DatasetArrays]:
    """An MLP [16] on the 3x8x6 colour images with input noise `noise`, the seed's weights."""
    data = rgb_arrays()
    plan = plan_of(
        (Flatten(), Dense(144, 16), Activation("relu"), Dense(16, 3)),
        input_shape=(3, 8, 6),
        n_classes=3,
        optimizer={"name": "sgd", "lr": 0.05},
        regularization={"input_noise": noise},
        training={"batch_size": 32},
    )
    plan = replace(plan, seed=seed)
    return trainer_of(backend, plan, data, initial_weights(plan, 0)), data


def train_twice(trainer: Trainer, n: int) -> list[float]:
    rng = np.random.default_rng(1)
    return [trainer.train_epoch(rng.permutation(n)).loss for _ in range(2)]


@each_backend
def test_input_noise_changes_training_not_evaluation(backend: str) -> None:
    noisy, data = rgb_mlp(backend, 1.0)
    clean, _ = rgb_mlp(backend, 0.0)
    assert noisy.evaluate("val") == clean.evaluate("val")  # same weights, clean inputs
    noisy_losses = train_twice(noisy, len(data.train))
    assert noisy_losses != pytest.approx(train_twice(clean, len(data.train)), rel=1e-3)
    # Evaluation of the noisy run's weights is that of the same weights without noise.
    clean.load_weights(noisy.weights())
    assert noisy.evaluate("val") == clean.evaluate("val")
    assert noisy.evaluate("train") == clean.evaluate("train")


@each_backend
def test_input_noise_is_a_function_of_the_seed(backend: str) -> None:
    # Each trainer is built right before it trains: torch draws from its process-wide
    # generator (as for dropout), which building a trainer seeds.
    def run(seed: int) -> tuple[list[float], dict[str, np.ndarray]]:
        trainer, data = rgb_mlp(backend, 1.0, seed)
        return train_twice(trainer, len(data.train)), trainer.weights()

    losses, weights = run(0)
    again, weights_again = run(0)
    assert again == losses
    for name, value in weights.items():
        np.testing.assert_array_equal(weights_again[name], value)
    other_losses, _ = run(1)  # same initial weights, other noise
    assert other_losses != pytest.approx(losses, rel=1e-4)
