"""Predict with a reglab model artifact using numpy and safetensors alone (no torch, no TF).

    python examples/predict_numpy.py model.safetensors model.json inputs.npy

`inputs.npy` holds raw examples shaped like the training data's, (N, *input_shape) or a
single one: they are standardized with the statistics in `model.json`, as in training. Prints
one line per example: its index, predicted class name and that class's probability.

Tensor names are `layers.<i>.<kind>.<param>` for op `i` of the manifest's plan, channels-first:
dense kernel (out, in), conv kernel (out, in, *window), batch norm gamma/beta/running
mean/running variance per channel. Float64 throughout, from the float32 weights.
"""

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from safetensors.numpy import load_file

USAGE = "usage: python examples/predict_numpy.py model.safetensors model.json inputs.npy"
Array = NDArray[np.float64]
Tensors = dict[str, NDArray[Any]]

_erf = np.vectorize(math.erf, otypes=[np.float64])
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),  # the exact GELU
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
}


def load(weights: Path, manifest: Path) -> tuple[dict[str, Any], Tensors]:
    """The manifest and the weights of one artifact."""
    return json.loads(manifest.read_text()), load_file(str(weights))


def standardize(raw: NDArray[Any], manifest: dict[str, Any]) -> Array:
    """Raw examples as the network saw its training data: `(x - mean) / std`, batched."""
    stats = manifest["input"]
    shape = tuple(stats["shape"])
    x = np.asarray(raw, dtype=np.float64)
    if x.shape == shape:
        x = x[np.newaxis]
    if x.shape[1:] != shape:
        raise ValueError(f"inputs are shaped {x.shape}; expected (N, {', '.join(map(str, shape))})")
    mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
    # Rounded to float32 as the training data was, then computed in float64.
    return ((x - mean) / std).astype(np.float32).astype(np.float64)


def _conv(x: Array, kernel: Array, bias: Array | None) -> Array:
    """Same-padded, stride-1 cross-correlation of (N, C, *spatial) with (O, C, *window)."""
    window = kernel.shape[2:]
    pads = [(0, 0), (0, 0)] + [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in window]
    axes = tuple(range(2, x.ndim))
    patches = sliding_window_view(np.pad(x, pads), window, axis=axes)  # (N, C, *spatial, *win)
    if len(window) == 1:
        out = np.einsum("ncsk,ock->nos", patches, kernel)
    else:
        out = np.einsum("nchwij,ocij->nohw", patches, kernel)
    return out if bias is None else out + bias.reshape(1, -1, *(1,) * len(window))


def _pool(x: Array, kind: str, size: int) -> Array:
    """Window `size`, stride `size`, no padding: each spatial size rounds down."""
    n, c, *spatial = x.shape
    kept = [s // size for s in spatial]
    x = x[(slice(None), slice(None), *(slice(0, k * size) for k in kept))]
    blocks = x.reshape(n, c, *(d for k in kept for d in (k, size)))
    axes = tuple(3 + 2 * i for i in range(len(kept)))
    return blocks.max(axis=axes) if kind == "max" else blocks.mean(axis=axes)


def _batch_norm(x: Array, op: dict[str, Any], params: dict[str, Array]) -> Array:
    """Eval mode: the running statistics, over axis 1 (features or channels)."""
    shape = (1, -1, *(1,) * (x.ndim - 2))
    mean, var = params["running_mean"].reshape(shape), params["running_var"].reshape(shape)
    gamma, beta = params["gamma"].reshape(shape), params["beta"].reshape(shape)
    return (x - mean) / np.sqrt(var + op["eps"]) * gamma + beta


def _apply(x: Array, op: dict[str, Any], params: dict[str, Array]) -> Array:
    """One plan op, in eval mode."""
    kind = op["op"]
    if kind == "channels_first":
        return x.reshape(len(x), op["channels"], *op["spatial"])
    if kind == "conv":
        return _conv(x, params["kernel"], params.get("bias"))
    if kind == "pool":
        return _pool(x, op["kind"], op["size"])
    if kind == "flatten":
        return x.reshape(len(x), -1)  # already channels-first
    if kind == "dense":
        out = x @ params["kernel"].T
        return out + params["bias"] if "bias" in params else out
    if kind == "batch_norm":
        return _batch_norm(x, op, params)
    if kind == "activation":
        return ACTIVATIONS[op["name"]](x)
    if kind == "dropout":
        return x  # identity in eval mode
    raise ValueError(f"unknown op {kind!r}")


def logits(x: Array, manifest: dict[str, Any], tensors: Tensors) -> Array:
    """The network's logits for standardized inputs, op by op."""
    for index, op in enumerate(manifest["plan"]["ops"]):
        prefix = f"layers.{index}.{op['op']}."
        params = {
            name[len(prefix) :]: np.asarray(value, dtype=np.float64)
            for name, value in tensors.items()
            if name.startswith(prefix)
        }
        x = _apply(x, op, params)
    return x


def predict(
    raw: NDArray[Any], manifest: dict[str, Any], tensors: Tensors
) -> tuple[list[str], Array]:
    """The predicted class names of raw examples, and the softmax probabilities."""
    z = logits(standardize(raw, manifest), manifest, tensors)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    probabilities = z / z.sum(axis=1, keepdims=True)
    names = manifest["class_names"]
    return [names[k] for k in probabilities.argmax(axis=1)], probabilities


def main(argv: list[str]) -> int:
    """The command line: weights, manifest and inputs in; one prediction per line out."""
    if len(argv) != 3:
        print(USAGE, file=sys.stderr)
        return 2
    manifest, tensors = load(Path(argv[0]), Path(argv[1]))
    names, probabilities = predict(np.load(argv[2], allow_pickle=False), manifest, tensors)
    for index, (name, row) in enumerate(zip(names, probabilities, strict=True)):
        print(f"{index}\t{name}\t{row.max():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
