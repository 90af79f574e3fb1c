"""The plan's layer ops as torch modules: one module per op, in plan order."""

import torch
from torch import nn

from models.spec.plan import (
    Activation,
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

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
}
BATCHNORMS: dict[int, type[nn.Module]] = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
# By spatial dims; stride defaults to the window and ceil_mode=False rounds odd sizes down.
POOLS: dict[tuple[str, int], type[nn.Module]] = {
    ("max", 1): nn.MaxPool1d,
    ("max", 2): nn.MaxPool2d,
    ("avg", 1): nn.AvgPool1d,
    ("avg", 2): nn.AvgPool2d,
}


class _ChannelsFirst(nn.Module):
    """(N, *spatial) gains its channel axis; (N, C, *spatial) is already laid out (a view)."""

    def __init__(self, op: ChannelsFirst) -> None:
        super().__init__()
        self.shape = (op.channels, *op.spatial)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


def _layer(op: Op, spatial_dims: int) -> nn.Module:
    """The torch module for one plan op; `spatial_dims` is 0 for (N, F) activations."""
    if isinstance(op, ChannelsFirst):
        return _ChannelsFirst(op)
    if isinstance(op, Conv):
        conv = nn.Conv1d if op.dims == 1 else nn.Conv2d
        return conv(op.in_channels, op.out_channels, op.kernel_size, padding="same", bias=op.bias)
    if isinstance(op, Pool):
        return POOLS[op.kind, op.dims](op.size)
    if isinstance(op, Flatten):
        return nn.Flatten()
    if isinstance(op, Dense):
        return nn.Linear(op.in_features, op.out_features, bias=op.bias)
    if isinstance(op, BatchNorm):
        # Same convention as the spec: momentum is the weight of the new batch statistic.
        return BATCHNORMS[spatial_dims](op.features, eps=op.eps, momentum=op.momentum)
    if isinstance(op, Activation):
        return ACTIVATIONS[op.name]()
    return _dropout(op)


def _dropout(op: Dropout) -> nn.Module:
    """Standard dropout, or spatial dropout on the (N, C, *spatial) maps of a conv block."""
    if not op.spatial:
        return nn.Dropout(op.p)
    # One Bernoulli draw per (example, channel), shared by the whole map.
    return nn.Dropout1d(op.p) if op.spatial == 1 else nn.Dropout2d(op.p)


def build_module(plan: Plan) -> nn.Sequential:
    """The plan as an nn.Sequential, op for op."""
    layers: list[nn.Module] = []
    spatial_dims = 0
    for op in plan.ops:
        if isinstance(op, ChannelsFirst):
            spatial_dims = len(op.spatial)
        elif isinstance(op, Flatten):
            spatial_dims = 0
        layers.append(_layer(op, spatial_dims))
    return nn.Sequential(*layers)
