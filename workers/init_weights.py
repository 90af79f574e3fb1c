"""Initial weights as a function of the seed alone, generated once and loaded by any backend."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.spec.plan import Conv, Dense, Plan

Array = NDArray[np.float32]


@dataclass(frozen=True)
class LayerWeights:
    """Kernel in torch layout ((out, in) or (out, in, *window)); bias, or None without one."""

    kernel: Array
    bias: Array | None


def initial_weights(plan: Plan, seed: int) -> list[LayerWeights]:
    """Glorot-uniform kernels and zero biases for each Dense/Conv of the plan, in order."""
    rng = np.random.default_rng(seed)
    weights = []
    for op in plan.ops:
        if isinstance(op, Dense):
            shape: tuple[int, ...] = (op.out_features, op.in_features)
            fan_in, fan_out = op.in_features, op.out_features
        elif isinstance(op, Conv):
            window = op.kernel_size**op.dims
            shape = (op.out_channels, op.in_channels) + (op.kernel_size,) * op.dims
            fan_in, fan_out = op.in_channels * window, op.out_channels * window
        else:
            continue
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        kernel = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        bias = np.zeros(shape[0], dtype=np.float32) if op.bias else None
        weights.append(LayerWeights(kernel=kernel, bias=bias))
    return weights
