"""The backend-neutral layer plan a spec compiles to; every backend builds exactly this."""

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from models.spec import ExperimentSpec

ActivationName = Literal["relu", "tanh", "sigmoid", "gelu", "elu"]


@dataclass(frozen=True)
class AddChannelAxis:
    """Give a (N, *spatial) input one channel: (N, 1, *spatial) channels-first."""


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
    """Inverted dropout: drop with probability p, scale kept units by 1/(1-p); eval identity."""

    p: float


Op = AddChannelAxis | Conv | Flatten | Dense | BatchNorm | Activation | Dropout


@dataclass(frozen=True)
class Plan:
    """Layers in order, the logits' width and the kernel penalties added to the loss."""

    input_shape: tuple[int, ...]
    ops: tuple[Op, ...]
    n_classes: int
    l1: float
    l2: float

    @property
    def n_params(self) -> int:
        """Trainable parameters of the whole network."""
        return sum(op.n_params for op in self.ops if isinstance(op, Conv | Dense | BatchNorm))


def _hidden_block(layer: Conv | Dense, spec: "ExperimentSpec", dropout: float) -> list[Op]:
    """One hidden layer: weights, optional batch norm, activation, optional dropout."""
    reg = spec.regularization
    width = layer.out_channels if isinstance(layer, Conv) else layer.out_features
    ops: list[Op] = [layer]
    if reg.batchnorm:
        ops.append(BatchNorm(features=width, momentum=reg.bn_momentum, eps=reg.bn_eps))
    ops.append(Activation(spec.model.activation))
    if dropout > 0:
        ops.append(Dropout(dropout))
    return ops


def build_plan(spec: "ExperimentSpec") -> Plan:
    """Compile a spec into the layer plan every backend builds."""
    shape = spec.dataset.shape()
    rates = iter(spec.dropout_rates())
    # Batch norm subtracts the mean, so a bias before it would only learn rounding noise
    # (which Adam amplifies into full-size steps): its beta takes the bias's place.
    batchnorm = spec.regularization.batchnorm
    ops: list[Op] = []
    features = prod(shape.input_shape)
    if spec.model.kind == "cnn":
        dims: Literal[1, 2] = 2 if len(shape.input_shape) == 2 else 1
        ops.append(AddChannelAxis())
        channels = 1
        for out in spec.model.channels:
            conv = Conv(channels, out, spec.model.kernel_size, dims, bias=not batchnorm)
            ops += _hidden_block(conv, spec, next(rates))
            channels = out
        features = channels * prod(shape.input_shape)
    if len(shape.input_shape) > 1 or spec.model.kind == "cnn":
        ops.append(Flatten())
    for width in spec.model.hidden:
        ops += _hidden_block(Dense(features, width, bias=not batchnorm), spec, next(rates))
        features = width
    ops.append(Dense(features, shape.n_classes))
    return Plan(
        input_shape=shape.input_shape,
        ops=tuple(ops),
        n_classes=shape.n_classes,
        l1=spec.regularization.l1,
        l2=spec.regularization.l2,
    )
