"""Conformance: every registered backend builds every plan op and regularizer, same properties.

Each case is a small spec exercising one op or regularizer; each backend trains it for a few
epochs on tiny data through the `Trainer` protocol. A new backend joins by its registry line.
"""

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import pytest

from models.spec.catalog import BuiltinCatalog, DatasetShape
from models.spec.plan import (
    Activation,
    ActivationName,
    BatchNorm,
    ChannelsFirst,
    Conv,
    Dense,
    Dropout,
    Flatten,
    Op,
    Plan,
    Pool,
)
from models.spec.resolve import plan_for, resolve
from tests.factories import make_spec
from tests.workers.backends.images import RGB_SHAPE, rgb_arrays
from workers.backends import BACKEND_MODULES, get_backend
from workers.backends.base import KernelStats
from workers.datasets import DatasetArrays, Split, load_dataset
from workers.init_weights import LayerWeights, initial_weights

pytest.importorskip("tensorflow")

REFERENCE = "torch"
BN_EVAL_BOUND = 2e-2  # relative; running variances n/(n-1) apart, see docs/semantics.md
EPOCHS = 3
DIGITS = {"name": "digits", "n_samples": None, "train_limit": 300}
FEATURES = {"name": "classification", "n_samples": 400, "n_features": 12, "n_classes": 3}
ODD_FEATURES = {**FEATURES, "n_features": 13}
CNN = {"kind": "cnn", "channels": [3], "kernel_size": 3, "hidden": [8]}
# Two pooled blocks on digits, 8x8 -> 4x4 -> 2x2; one on 13 features -> 6 (rounding down).
# The deeper, narrower net needs momentum to clear the accuracy bar in EPOCHS epochs.
POOLED_CNN = {**CNN, "channels": [4, 8]}


@dataclass(frozen=True)
class Case:
    """Spec sections merged into the base spec, the part of the plan it exercises, its data.

    `data`, if given, replaces the spec's built-in dataset (the plan is made for its shape).
    """

    sections: dict[str, Any]
    exercises: Callable[[Plan], bool]
    data: Callable[[], DatasetArrays] | None = None


def has_op(matches: Callable[[Op], bool]) -> Callable[[Plan], bool]:
    return lambda plan: any(matches(op) for op in plan.ops)


def is_a(kind: type) -> Callable[[Plan], bool]:
    return has_op(lambda op: isinstance(op, kind))


def is_conv(dims: int) -> Callable[[Plan], bool]:
    return has_op(lambda op: isinstance(op, Conv) and op.dims == dims)


def is_activation(name: ActivationName) -> Callable[[Plan], bool]:
    return has_op(lambda op: op == Activation(name))


def is_pool(kind: str, dims: int) -> Callable[[Plan], bool]:
    return has_op(lambda op: isinstance(op, Pool) and (op.kind, op.dims) == (kind, dims))


def on_rgb(exercises: Callable[[Plan], bool]) -> Callable[[Plan], bool]:
    """`exercises`, on three-channel images (channels first) that no op adds an axis to."""
    return lambda plan: plan.input_shape == RGB_SHAPE and exercises(plan)


RGB = functools.cache(rgb_arrays)


CASES: dict[str, Case] = {
    "dense": Case({}, is_a(Dense)),
    **{
        f"activation-{name}": Case({"model": {"activation": name}}, is_activation(name))
        for name in get_args(ActivationName)
    },
    "conv1d": Case({"dataset": FEATURES, "model": CNN}, is_conv(1)),
    "conv2d": Case({"model": CNN}, is_conv(2)),
    "conv2d-flatten": Case({"model": CNN}, is_a(Flatten)),
    **{
        f"conv2d-pool-{kind}": Case(
            {"model": {**POOLED_CNN, "pool": kind}, "optimizer": {"momentum": 0.9}},
            is_pool(kind, 2),
        )
        for kind in ("max", "avg")
    },
    "conv1d-pool-max": Case(
        {"dataset": ODD_FEATURES, "model": {**CNN, "channels": [8], "pool": "max"}},
        is_pool("max", 1),
    ),
    "conv2d-rgb": Case(
        {"model": CNN}, on_rgb(has_op(lambda op: op == ChannelsFirst(3, (8, 6)))), RGB
    ),
    "conv2d-rgb-pool-max": Case(
        {"model": {**POOLED_CNN, "pool": "max"}, "optimizer": {"momentum": 0.9}},
        on_rgb(is_pool("max", 2)),
        RGB,
    ),
    # No dense hidden layer: its batch norm would see batches of 32, whose running variances
    # differ by 1/31 between backends (see BN_EVAL_BOUND), which these small val losses magnify.
    "conv2d-rgb-batchnorm": Case(
        {"model": {**CNN, "hidden": []}, "regularization": {"batchnorm": True}},
        on_rgb(is_a(BatchNorm)),
        RGB,
    ),
    "mlp-rgb": Case({}, on_rgb(lambda plan: plan.ops[0] == Flatten()), RGB),
    "conv2d-batchnorm": Case(
        {"model": CNN, "regularization": {"batchnorm": True}},
        is_a(BatchNorm),
    ),
    "batchnorm": Case(
        {"regularization": {"batchnorm": True, "bn_momentum": 0.05}},
        is_a(BatchNorm),
    ),
    "dropout": Case({"regularization": {"dropout": 0.3}}, is_a(Dropout)),
    "l1": Case({"regularization": {"l1": 1e-3}}, lambda plan: plan.penalty.l1 > 0),
    "l2": Case({"regularization": {"l2": 1e-3}}, lambda plan: plan.penalty.l2 > 0),
    "weight_decay": Case(
        {"regularization": {"weight_decay": 0.5}}, lambda plan: plan.decay.rate > 0
    ),
    "label_smoothing": Case(
        {"regularization": {"label_smoothing": 0.2}}, lambda plan: plan.loss.label_smoothing > 0
    ),
    # Limits below the initial unit norms (~1.1 dense, ~0.6 conv here): the constraint binds.
    "max_norm": Case({"regularization": {"max_norm": 1.0}}, lambda plan: plan.max_norm.limit == 1),
    "conv2d-max_norm": Case(
        {"model": CNN, "regularization": {"max_norm": 0.5}},
        lambda plan: is_conv(2)(plan) and plan.max_norm.limit == 0.5,
    ),
    "input_noise": Case(
        {"regularization": {"input_noise": 0.3}}, lambda plan: plan.input_noise.std == 0.3
    ),
    **{
        f"conv{dims}d-spatial_dropout": Case(
            {
                **({"dataset": FEATURES} if dims == 1 else {}),
                "model": CNN,
                "regularization": {"dropout": 0.3, "dropout_kind": "spatial"},
            },
            has_op(lambda op, dims=dims: op == Dropout(0.3, spatial=dims)),
        )
        for dims in (1, 2)
    },
    # Drawn in numpy from the seed, the same on every backend: not a random case.
    "mixup": Case({"regularization": {"mixup": 0.4}}, lambda plan: plan.mixup.alpha == 0.4),
    "mixup-label_smoothing": Case(
        {"regularization": {"mixup": 1.0, "label_smoothing": 0.1}},
        lambda plan: plan.mixup.alpha == 1 and plan.loss.label_smoothing == 0.1,
    ),
}
# Cases whose training draws from each framework's own generator: same in law, not in value.
RANDOM_CASES = {"dropout", "input_noise", "conv1d-spatial_dropout", "conv2d-spatial_dropout"}
# Cases that change training only, and the case without them they start as.
TRAINING_ONLY = {
    "dropout": "dense",
    "input_noise": "dense",
    "conv1d-spatial_dropout": "conv1d",
    "conv2d-spatial_dropout": "conv2d",
    "mixup": "dense",
}


@dataclass(frozen=True)
class Report:
    """What one backend did with one case."""

    initial_val_loss: float
    val_losses_twice: tuple[float, float]
    train_losses: list[float]
    val_acc: float
    penalty: float
    kernels: KernelStats
    n_classes: int


def case_spec(case: str, backend: str) -> Any:
    """The case's spec: digits MLP [16], plain SGD, sections merged in."""
    sections: dict[str, Any] = {
        "dataset": DIGITS,
        "model": {"hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"epochs": EPOCHS, "batch_size": 32},
    }
    for key, value in CASES[case].sections.items():
        sections[key] = {**sections.get(key, {}), **value}
    return make_spec(backend=backend, **sections)


def case_plan(case: str, backend: str) -> tuple[Plan, DatasetArrays]:
    """The case's plan and the data it trains on."""
    spec, make_data = case_spec(case, backend), CASES[case].data
    if make_data is None:
        return resolve(spec, BuiltinCatalog()).plan, load_dataset(spec.dataset)
    data = make_data()
    return plan_for(spec, data.shape), data


@functools.cache
def report(case: str, backend: str) -> Report:
    """Train the case on the backend through the Trainer protocol and record what it did."""
    spec = case_spec(case, backend)
    plan, data = case_plan(case, backend)
    trainer = get_backend(backend).create_trainer(
        plan, data, initial_weights(plan, spec.seed), spec.device, 2
    )
    initial = trainer.evaluate("val").loss
    rng = np.random.default_rng(0)
    losses = [trainer.train_epoch(rng.permutation(len(data.train))).loss for _ in range(EPOCHS)]
    first, second = trainer.evaluate("val"), trainer.evaluate("val")
    return Report(
        initial_val_loss=initial,
        val_losses_twice=(first.loss, second.loss),
        train_losses=losses,
        val_acc=first.acc,
        penalty=trainer.penalty(),
        kernels=trainer.kernel_stats(),
        n_classes=plan.n_classes,
    )


BACKENDS = sorted(BACKEND_MODULES)
each_case = pytest.mark.parametrize("case", sorted(CASES))
each_backend = pytest.mark.parametrize("backend", BACKENDS)


@each_case
def test_case_exercises_its_op(case: str) -> None:
    assert CASES[case].exercises(case_plan(case, REFERENCE)[0])


@each_case
@each_backend
def test_same_spec_trains_the_same_as_the_reference(case: str, backend: str) -> None:
    # Same weights from the seed, same plan, same batches: the same function and the same
    # training, to float32 rounding (dropout masks come from each framework's own generator).
    ours, reference = report(case, backend), report(case, REFERENCE)
    assert ours.initial_val_loss == pytest.approx(reference.initial_val_loss, rel=1e-5)
    if case not in RANDOM_CASES:
        assert ours.train_losses == pytest.approx(reference.train_losses, rel=1e-4)
        # Eval mode reads batch norm's running variance, biased in Keras and unbiased in torch.
        bound = BN_EVAL_BOUND if "batchnorm" in case else 1e-4
        assert ours.val_losses_twice[0] == pytest.approx(reference.val_losses_twice[0], rel=bound)


@each_case
@each_backend
def test_trains(case: str, backend: str) -> None:
    result = report(case, backend)
    assert all(math.isfinite(loss) for loss in result.train_losses)
    assert result.train_losses[-1] < result.train_losses[0]
    assert result.val_acc > 1.5 / result.n_classes  # well above chance


@each_case
@each_backend
def test_evaluation_is_deterministic(case: str, backend: str) -> None:
    # Eval mode: dropout is the identity, batch norm uses its running statistics.
    first, second = report(case, backend).val_losses_twice
    assert first == second


@each_case
@each_backend
def test_penalty_is_l1_and_l2_of_the_kernels(case: str, backend: str) -> None:
    reg = case_spec(case, backend).regularization
    result = report(case, backend)
    expected = reg.l1 * result.kernels.l1 + reg.l2 * result.kernels.l2**2
    assert result.penalty == pytest.approx(expected, rel=1e-5, abs=1e-12)
    assert (result.penalty > 0) == (reg.l1 > 0 or reg.l2 > 0)


@pytest.mark.parametrize("case", ["l1", "l2", "weight_decay"])
@each_backend
def test_regularizers_shrink_the_kernels(case: str, backend: str) -> None:
    plain, regularized = report("dense", backend), report(case, backend)
    norm = "l1" if case == "l1" else "l2"
    assert getattr(regularized.kernels, norm) < getattr(plain.kernels, norm)


@pytest.mark.parametrize("case", sorted(TRAINING_ONLY))
@each_backend
def test_noise_shows_in_training_only(case: str, backend: str) -> None:
    plain, noisy = report(TRAINING_ONLY[case], backend), report(case, backend)
    # Same weights at the start; the noise changes the training path, not the untrained network.
    assert noisy.initial_val_loss == plain.initial_val_loss
    assert noisy.train_losses[0] != pytest.approx(plain.train_losses[0], rel=1e-3)


@pytest.mark.parametrize(("case", "plain"), [("max_norm", "dense"), ("conv2d-max_norm", "conv2d")])
@each_backend
def test_max_norm_shrinks_the_kernels(case: str, plain: str, backend: str) -> None:
    assert report(case, backend).kernels.l2 < report(plain, backend).kernels.l2


def smoothed_cross_entropy(logits: np.ndarray, labels: np.ndarray, eps: float) -> float:
    """Mean cross-entropy against (1 - eps) * onehot + eps / K, in float64."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    k = logits.shape[1]
    targets = np.full_like(log_p, eps / k)
    targets[np.arange(len(labels)), labels] += 1.0 - eps
    return float(-(targets * log_p).sum(axis=1).mean())


@each_backend
def test_label_smoothing_loss_is_its_formula(backend: str) -> None:
    # The untrained MLP [16] in numpy from the seed's weights: the backend's val loss must be
    # the smoothed cross-entropy of these logits, not the plain one.
    spec = case_spec("label_smoothing", backend)
    plan = resolve(spec, BuiltinCatalog()).plan
    hidden, output = initial_weights(plan, spec.seed)
    val = load_dataset(spec.dataset).val
    x = val.x.reshape(len(val), -1).astype(np.float64)
    activations = np.maximum(x @ hidden.kernel.T.astype(np.float64), 0.0)
    logits = activations @ output.kernel.T.astype(np.float64)
    expected = smoothed_cross_entropy(logits, val.y, 0.2)
    assert report("label_smoothing", backend).initial_val_loss == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(smoothed_cross_entropy(logits, val.y, 0.0), rel=1e-3)


def pooled_logits(x: np.ndarray, kind: str, conv: LayerWeights, dense: LayerWeights) -> np.ndarray:
    """(N, C, H, W) inputs: 1x1 convolution, ReLU, 2x2 stride-2 pooling, channels-first flatten.

    Odd sides round down: the last row/column is dropped before pooling.
    """
    n, _, height, width = x.shape
    h, w = height // 2, width // 2
    maps = np.einsum("nchw,oc->nohw", x, conv.kernel[:, :, 0, 0].astype(np.float64))
    maps = np.maximum(maps, 0.0)[:, :, : 2 * h, : 2 * w].reshape(n, -1, h, 2, w, 2)
    pooled = maps.max(axis=(3, 5)) if kind == "max" else maps.mean(axis=(3, 5))
    logits: np.ndarray = pooled.reshape(n, -1) @ dense.kernel.T.astype(np.float64)
    return logits


@pytest.mark.parametrize("input_shape", [(7, 7), (3, 7, 5)], ids=["grey", "rgb"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@each_backend
def test_pooling_on_odd_images_is_its_formula(
    kind: str, backend: str, input_shape: tuple[int, ...]
) -> None:
    # 7x7 inputs pool to 3x3 and 3x7x5 ones (channels first) to 3x2, the last row and column
    # dropped; the untrained network's loss must be that of the same network in numpy, from
    # the seed's weights.
    spec = make_spec(
        backend=backend,
        model={"kind": "cnn", "channels": [3], "kernel_size": 1, "hidden": [], "pool": kind},
    )
    plan = plan_for(spec, DatasetShape(input_shape=input_shape, n_classes=3, n_samples=90))
    height, width = input_shape[-2:]
    assert plan.ops[-1] == Dense(3 * (height // 2) * (width // 2), 3)
    rng = np.random.default_rng(0)
    split = Split(x=rng.normal(size=(30, *input_shape)).astype(np.float32), y=np.arange(30) % 3)
    weights = initial_weights(plan, spec.seed)
    data = DatasetArrays(train=split, val=split, test=split, n_classes=3)
    trainer = get_backend(backend).create_trainer(plan, data, weights, "cpu", 2)
    images = split.x.astype(np.float64).reshape(30, -1, height, width)  # grey: one channel
    expected = smoothed_cross_entropy(pooled_logits(images, kind, *weights), split.y, 0.0)
    assert trainer.evaluate("val").loss == pytest.approx(expected, rel=1e-5)
