"""The backend-neutral plan a resolved spec compiles to: the layers and every training rule.

A backend builds exactly these ops and applies exactly these rules; it never reads the spec.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from math import prod
from typing import Literal

from models.spec.base import SpecError
from models.spec.catalog import DatasetShape
from models.spec.rules import (
    CrossEntropy,
    DecoupledDecay,
    InputNoise,
    KernelPenalty,
    MaxNorm,
    Mixup,
)
from models.spec.sections import ModelSpec, OptimizerSpec, RegularizationSpec

ActivationName = Literal["relu", "tanh", "sigmoid", "gelu", "elu"]
# RGBA at most: a rank-3 example whose first axis is wider is far more likely a
# channels-last (H, W, C) array than an image with that many channels.
MAX_CHANNELS = 4


@dataclass(frozen=True)
class ChannelsFirst:
    """Where the convolutions start: each example becomes (channels, *spatial).

    An example without a channel axis, (*spatial), gains one of size 1; an example stored
    channels-first, (channels, *spatial), stays as it is. Channels-last backends move the
    channel axis last here (and back to the front at the Flatten).
    """

    channels: int
    spatial: tuple[int, ...]


@dataclass(frozen=True)
class Conv:
    """Same-padded convolution over 1 or 2 spatial dimensions; its weight is a kernel."""

    in_channels: int
    out_channels: int
    kernel_size: int
    dims: Literal[1, 2]
    bias: bool = True

    @property
    def n_params(self) -> int:
        """Kernel plus bias entries."""
        window: int = self.kernel_size**self.dims
        return self.in_channels * self.out_channels * window + self.out_channels * self.bias


@dataclass(frozen=True)
class Pool:
    """Max or average pooling, window `size` and stride `size` on each spatial axis, no padding.

    A spatial size that `size` does not divide rounds down (the last row/column is dropped).
    """

    kind: Literal["max", "avg"]
    dims: Literal[1, 2]
    size: int = 2


@dataclass(frozen=True)
class Flatten:
    """Flatten to (N, features) in channels-first order (channels-last backends transpose first)."""


@dataclass(frozen=True)
class Dense:
    """Fully connected layer; its weight is a kernel."""

    in_features: int
    out_features: int
    bias: bool = True

    @property
    def n_params(self) -> int:
        """Kernel plus bias entries."""
        return self.in_features * self.out_features + self.out_features * self.bias


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalization over the channel/feature axis; momentum weighs the NEW statistic."""

    features: int
    momentum: float
    eps: float

    @property
    def n_params(self) -> int:
        """Trainable gamma and beta (running statistics are buffers, not parameters)."""
        return 2 * self.features


@dataclass(frozen=True)
class Activation:
    """Element-wise nonlinearity."""

    name: ActivationName


@dataclass(frozen=True)
class Dropout:
    """Inverted dropout: drop with probability p, scale kept units by 1/(1-p); eval identity.

    `spatial` 0: each unit drops on its own. 1 or 2 (after a conv block, whose maps have
    that many spatial axes): spatial dropout, each (example, channel) map drops whole, one
    draw shared by all its positions. Still op kind `dropout`: eval mode is the same.
    """

    p: float
    spatial: Literal[0, 1, 2] = 0


Op = ChannelsFirst | Conv | Pool | Flatten | Dense | BatchNorm | Activation | Dropout
# The training rules live in models.spec.rules; the plan is where backends import them from.
__all__ = ["CrossEntropy", "DecoupledDecay", "InputNoise", "KernelPenalty", "MaxNorm", "Mixup"]


@dataclass(frozen=True)
class Plan:
    """Layers in order, the logits' width, and how to train them."""

    input_shape: tuple[int, ...]
    ops: tuple[Op, ...]
    n_classes: int
    loss: CrossEntropy
    penalty: KernelPenalty
    decay: DecoupledDecay
    optimizer: OptimizerSpec
    batch_size: int
    seed: int  # dropout masks, input noise, mixup draws; initial weights come from it too
    max_norm: MaxNorm
    input_noise: InputNoise
    mixup: Mixup

    @property
    def n_params(self) -> int:
        """Trainable parameters of the whole network."""
        return sum(op.n_params for op in self.ops if isinstance(op, Conv | Dense | BatchNorm))


def _hidden_block(
    layer: Conv | Dense,
    model: ModelSpec,
    reg: RegularizationSpec,
    dropout: float,
    pool: Pool | None = None,
) -> list[Op]:
    """One hidden layer: weights, optional batch norm, activation, pooling, optional dropout."""
    width = layer.out_channels if isinstance(layer, Conv) else layer.out_features
    ops: list[Op] = [layer]
    if reg.batchnorm:
        ops.append(BatchNorm(features=width, momentum=reg.bn_momentum, eps=reg.bn_eps))
    ops.append(Activation(model.activation))
    if pool is not None:
        # Before dropout: max pooling then picks among unscaled activations, as in eval mode,
        # and dropout drops units of what the next layer sees.
        ops.append(pool)
    if dropout > 0 and isinstance(layer, Conv) and reg.dropout_kind == "spatial":
        ops.append(Dropout(dropout, spatial=layer.dims))
    elif dropout > 0:
        ops.append(Dropout(dropout))
    return ops


def cnn_layout(input_shape: tuple[int, ...]) -> ChannelsFirst:
    """How a cnn reads an example; SpecError for shapes it cannot read as one.

    By rank: (L,) is a sequence of one channel (1-D convolutions), (H, W) a one-channel
    image and (C, H, W) an image of C <= MAX_CHANNELS channels, channels first (2-D).
    """
    if len(input_shape) <= 2:
        return ChannelsFirst(1, input_shape)
    channels, *spatial = input_shape
    if len(input_shape) == 3 and channels <= MAX_CHANNELS:
        return ChannelsFirst(channels, tuple(spatial))
    hint = " (channels last? store them as (C, H, W))" if input_shape[-1] <= MAX_CHANNELS else ""
    raise SpecError(
        ("model", "kind"),
        f"model.kind: a cnn reads examples shaped (L,), (H, W) or channels-first (C, H, W) "
        f"with C <= {MAX_CHANNELS}; this dataset's are {input_shape}{hint}",
    )


def _conv_blocks(
    input_shape: tuple[int, ...],
    model: ModelSpec,
    reg: RegularizationSpec,
    rates: Iterator[float],
    bias: bool,
) -> tuple[list[Op], int]:
    """The convolution blocks of a cnn, and the number of features they leave to flatten."""
    layout = cnn_layout(input_shape)
    dims: Literal[1, 2] = 2 if len(layout.spatial) == 2 else 1
    pool = Pool(model.pool, dims) if model.pool is not None else None
    ops: list[Op] = [layout]
    channels, spatial = layout.channels, layout.spatial
    for out in model.channels:
        conv = Conv(channels, out, model.kernel_size, dims, bias=bias)
        ops += _hidden_block(conv, model, reg, next(rates), pool)
        channels = out
        if pool is not None:
            spatial = tuple(size // pool.size for size in spatial)
    if not all(spatial):
        most = min(layout.spatial).bit_length() - 1  # halvings before a side reaches 1
        raise SpecError(
            ("model", "pool"),
            f"model.pool: {len(model.channels)} pooled convolution blocks shrink the "
            f"{'x'.join(map(str, input_shape))} input to nothing; at most {most} fit",
        )
    return ops, channels * prod(spatial)


def build_ops(shape: DatasetShape, model: ModelSpec, reg: RegularizationSpec) -> tuple[Op, ...]:
    """The network's layers for data of `shape`; SpecError if pooling leaves nothing."""
    rates = iter(reg.dropout_rates(model.n_hidden_layers))
    # Batch norm subtracts the mean, so a bias before it would only learn rounding noise
    # (which Adam amplifies into full-size steps): its beta takes the bias's place.
    bias = not reg.batchnorm
    ops: list[Op] = []
    features = prod(shape.input_shape)
    if model.kind == "cnn":
        ops, features = _conv_blocks(shape.input_shape, model, reg, rates, bias)
    if len(shape.input_shape) > 1 or model.kind == "cnn":
        ops.append(Flatten())
    for width in model.hidden:
        ops += _hidden_block(Dense(features, width, bias=bias), model, reg, next(rates))
        features = width
    ops.append(Dense(features, shape.n_classes))
    return tuple(ops)


def build_plan(
    shape: DatasetShape,
    model: ModelSpec,
    reg: RegularizationSpec,
    optimizer: OptimizerSpec,
    *,
    batch_size: int,
    seed: int,
) -> Plan:
    """Compile the spec's sections, for data of `shape`, into the plan every backend trains."""
    return Plan(
        input_shape=shape.input_shape,
        ops=build_ops(shape, model, reg),
        n_classes=shape.n_classes,
        loss=CrossEntropy(label_smoothing=reg.label_smoothing),
        penalty=KernelPenalty(l1=reg.l1, l2=reg.l2),
        decay=DecoupledDecay(rate=reg.weight_decay),
        max_norm=MaxNorm(limit=reg.max_norm),
        input_noise=InputNoise(std=reg.input_noise),
        mixup=Mixup(alpha=reg.mixup),
        optimizer=optimizer,
        batch_size=batch_size,
        seed=seed,
    )
