"""Backend-neutral weight names and shapes: what a trainer exports and any backend loads.

Tensor `layers.<i>.<kind>.<param>` belongs to op `i` of the plan (`plan.ops[i]`), `<kind>`
being the op's kind (`dense`, `conv`, `batch_norm`). One layout, channels-first like torch:

- dense: `kernel` (out, in), `bias` (out,) unless the layer has none;
- conv: `kernel` (out, in, *window), i.e. (O, I, L) in 1-D and OIHW in 2-D, `bias` (out,);
- batch_norm: `gamma`, `beta`, `running_mean`, `running_var` (features,), the running
  statistics as the eval-mode normalization uses them: `(x - running_mean) /
  sqrt(running_var + eps) * gamma + beta` over the channel axis.

The flatten before the dense layers reads channels-first (C, *spatial) order, so a dense
kernel's input axis is in that order on every backend. Float32, no optimizer state.
"""

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.spec.plan import BatchNorm, Conv, Dense, Op, Plan
from workers.backends.base import expect_same_shapes

FORMAT = "reglab-weights/1"
LAYOUT = "channels-first: dense kernel (out, in), conv kernel (out, in, *window)"
BN_PARAMS = ("gamma", "beta", "running_mean", "running_var")

Tensors = dict[str, NDArray[np.float32]]


def op_kind(op: Op) -> str:
    """The op's kind in snake case, as tensor names and the manifest's plan spell it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(op).__name__).lower()


def tensor_name(index: int, op: Op, param: str) -> str:
    """The neutral name of parameter `param` of op `index`."""
    return f"layers.{index}.{op_kind(op)}.{param}"


def op_shapes(op: Op) -> dict[str, tuple[int, ...]]:
    """Each parameter of one op and its neutral shape (none for ops without weights)."""
    if isinstance(op, Dense):
        kernel: tuple[int, ...] = (op.out_features, op.in_features)
        return {"kernel": kernel, **({"bias": (op.out_features,)} if op.bias else {})}
    if isinstance(op, Conv):
        kernel = (op.out_channels, op.in_channels) + (op.kernel_size,) * op.dims
        return {"kernel": kernel, **({"bias": (op.out_channels,)} if op.bias else {})}
    if isinstance(op, BatchNorm):
        return dict.fromkeys(BN_PARAMS, (op.features,))
    return {}


def expected_shapes(plan: Plan) -> dict[str, tuple[int, ...]]:
    """Every tensor a model of `plan` has, by neutral name, with its shape."""
    return {
        tensor_name(index, op, param): shape
        for index, op in enumerate(plan.ops)
        for param, shape in op_shapes(op).items()
    }


def check_weights(plan: Plan, tensors: Mapping[str, NDArray[Any]]) -> None:
    """ValueError naming the first tensor that is missing, extra or misshapen for `plan`."""
    expect_same_shapes(tensors, expected_shapes(plan), what="weight set")


def metadata(framework: str) -> dict[str, str]:
    """The safetensors header metadata of exported weights (string to string)."""
    return {"format": FORMAT, "layout": LAYOUT, "framework": framework}
