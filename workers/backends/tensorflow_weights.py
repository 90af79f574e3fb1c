"""Keras models to and from backend-neutral weights: kernels transposed, BN statistics renamed.

Keras keeps a Dense kernel as (in, out) and a Conv kernel as (*window, in, out); the neutral
layout is torch's (out, in) and (out, in, *window). Its BN running statistics are
`moving_mean`/`moving_variance`, used in eval mode exactly as torch uses its own.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import keras
import numpy as np
from numpy.typing import NDArray

from models.spec.plan import Plan
from workers.backends.layout import Tensors, check_weights, op_shapes, tensor_name

# Neutral parameter name -> the Keras layer attribute holding it.
KERAS_NAMES = {
    "kernel": "kernel",
    "bias": "bias",
    "gamma": "gamma",
    "beta": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}


def to_keras(param: str, array: NDArray[Any]) -> NDArray[np.float32]:
    """A neutral tensor in Keras's layout: kernels (out, in, *window) -> (*window, in, out)."""
    if param == "kernel":
        array = np.transpose(array, (*range(2, array.ndim), 1, 0))
    return np.ascontiguousarray(array, dtype=np.float32)


def from_keras(param: str, array: NDArray[Any]) -> NDArray[np.float32]:
    """A Keras variable's value in the neutral layout: kernels (*window, in, out) -> (out, in,
    *window)."""
    if param == "kernel":
        array = np.transpose(array, (array.ndim - 1, array.ndim - 2, *range(array.ndim - 2)))
    return np.ascontiguousarray(array, dtype=np.float32)


def _variables(model: keras.Model, plan: Plan) -> Iterator[tuple[str, str, Any]]:
    """(neutral name, parameter, Keras variable) of every weight.

    The functional model's layers after its input are the plan's ops, one each, in order.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for index, (op, layer) in enumerate(zip(plan.ops, layers, strict=True)):
        for param in op_shapes(op):
            yield tensor_name(index, op, param), param, getattr(layer, KERAS_NAMES[param])


class KerasWeights:
    """`weights()` and `load_weights()` of a trainer whose `model` is built from `plan`."""

    model: keras.Model
    plan: Plan

    def weights(self) -> Tensors:
        """The weights and BN statistics under neutral names, as float32 host arrays."""
        return {
            name: from_keras(param, np.asarray(variable.numpy()))
            for name, param, variable in _variables(self.model, self.plan)
        }

    def load_weights(self, tensors: Mapping[str, NDArray[Any]]) -> None:
        """Set the weights and BN statistics from neutral tensors; ValueError if they misfit."""
        check_weights(self.plan, tensors)
        for name, param, variable in _variables(self.model, self.plan):
            variable.assign(to_keras(param, tensors[name]))
