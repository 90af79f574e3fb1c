"""What every backend module provides: a trainer built from the backend-neutral plan."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from models.spec.plan import Plan
from workers.datasets import DatasetArrays
from workers.init_weights import LayerWeights

SplitName = Literal["train", "val", "test"]
# Asked between batches; True abandons the epoch (the run was cancelled).
Interrupt = Callable[[], bool]
SPARSITY_THRESHOLD = 1e-3  # |w| below this counts as zero in `sparsity`
EVAL_BATCH = 4096  # examples per forward pass when evaluating a whole split


@dataclass(frozen=True)
class LossAcc:
    """Mean data loss (the plan's cross-entropy, no penalty) and accuracy over some examples."""

    loss: float
    acc: float


@dataclass(frozen=True)
class KernelStats:
    """Norms and sparsity of all kernels (Dense/Conv weights; no biases, no BN parameters)."""

    l1: float
    l2: float
    sparsity: float


def kernel_stats_of(flat: NDArray[np.floating]) -> KernelStats:
    """Norms and sparsity of all kernel entries, given flattened into one array."""
    values = flat.astype(np.float64)
    return KernelStats(
        l1=float(np.abs(values).sum()),
        l2=float(np.sqrt(np.square(values).sum())),
        sparsity=float(np.mean(np.abs(values) < SPARSITY_THRESHOLD)),
    )


class Trainer(Protocol):
    """A network, its optimizer and its data, living in one framework."""

    device: str

    def train_epoch(self, order: NDArray[np.int64], interrupt: Interrupt | None = None) -> LossAcc:
        """One pass over the training split in the given order, train mode.

        Raises EpochInterruptedError as soon as `interrupt` (asked between batches) says so.
        """
        ...

    def evaluate(self, split: SplitName) -> LossAcc:
        """Loss and accuracy on a whole split, eval mode."""
        ...

    def penalty(self) -> float:
        """The L1 + L2 kernel penalty at the current weights."""
        ...

    def kernel_stats(self) -> KernelStats:
        """L1 norm, L2 norm and share of near-zero entries of the kernels."""
        ...

    def state(self) -> dict[str, NDArray[Any]]:
        """Weights, BN statistics, optimizer slots and dropout RNG, as named host arrays."""
        ...

    def load_state(self, tensors: Mapping[str, NDArray[Any]]) -> None:
        """Continue from a `state()` taken from a trainer built from the same plan and spec."""
        ...

    def weights(self) -> dict[str, NDArray[np.float32]]:
        """The model's weights and BN statistics under neutral names (`backends.layout`)."""
        ...

    def load_weights(self, tensors: Mapping[str, NDArray[Any]]) -> None:
        """Set the model to `weights()` of a model of the same plan, from any backend.

        ValueError if they do not fit the plan; the optimizer's state is left as it is.
        """
        ...

    def environment(self) -> dict[str, str]:
        """`framework`, `framework_version` (and other library versions) and `device`'s name."""
        ...


class BackendModule(Protocol):
    """A backend is a module exposing `create_trainer`."""

    def create_trainer(
        self,
        plan: Plan,
        data: DatasetArrays,
        weights: list[LayerWeights],
        device: str,
        threads: int,
    ) -> Trainer:
        """Build the network from the plan, load the weights and put the data on the device."""
        ...


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch; a trailing batch of one joins the previous batch.

    Batch norm cannot normalize a single example in training mode, and every backend
    must cut the same batches, so the rule lives here.
    """
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


class EpochInterruptedError(Exception):
    """An epoch abandoned part-way because its run is to stop."""


def check_interrupt(interrupt: Interrupt | None) -> None:
    """Raise EpochInterruptedError if the run is to stop now."""
    if interrupt is not None and interrupt():
        raise EpochInterruptedError


def expect_same_shapes(
    tensors: Mapping[str, NDArray[Any]],
    expected: Mapping[str, tuple[int, ...]],
    what: str = "checkpoint",
) -> None:
    """Refuse saved tensors that do not match this trainer's, naming the first misfit."""
    if set(tensors) != set(expected):
        odd = sorted(set(tensors) ^ set(expected))[:3]
        raise ValueError(f"{what} does not fit this model: tensors {odd} differ")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != tuple(shape):
            raise ValueError(
                f"{what} does not fit this model: {name} has shape "
                f"{tuple(tensors[name].shape)}, expected {tuple(shape)}"
            )


class DeviceUnavailableError(RuntimeError):
    """The spec asked for a device this worker does not have."""
