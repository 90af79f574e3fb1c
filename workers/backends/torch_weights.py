"""Torch modules to and from backend-neutral weights: torch's own layout, renamed by plan op."""

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from models.spec.plan import Plan
from workers.backends.layout import Tensors, check_weights, op_shapes, tensor_name

# Neutral parameter name -> the torch attribute holding it (the layout is torch's already).
TORCH_NAMES = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "running_mean": "running_mean",
    "running_var": "running_var",
}


def _tensors(model: nn.Sequential, plan: Plan) -> Iterator[tuple[str, torch.Tensor]]:
    """(neutral name, torch tensor) of every weight; module `i` is built from `plan.ops[i]`."""
    for index, (op, module) in enumerate(zip(plan.ops, model, strict=True)):
        for param in op_shapes(op):
            yield tensor_name(index, op, param), getattr(module, TORCH_NAMES[param])


class TorchWeights:
    """`weights()` and `load_weights()` of a trainer whose `model` is built from `plan`."""

    model: nn.Sequential
    plan: Plan

    @torch.no_grad()
    def weights(self) -> Tensors:
        """The weights and BN statistics under neutral names, as float32 host arrays."""
        return {
            name: tensor.detach().cpu().numpy().astype(np.float32, copy=True)
            for name, tensor in _tensors(self.model, self.plan)
        }

    @torch.no_grad()
    def load_weights(self, tensors: Mapping[str, NDArray[Any]]) -> None:
        """Set the weights and BN statistics from neutral tensors; ValueError if they misfit."""
        check_weights(self.plan, tensors)
        for name, tensor in _tensors(self.model, self.plan):
            tensor.copy_(torch.from_numpy(np.asarray(tensors[name], dtype=np.float32)))
