"""What the training loop carries from epoch to epoch; with the trainer's state, a checkpoint."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.spec import ExperimentSpec
from workers.early_stopping import EarlyStopping

Tensors = dict[str, NDArray[Any]]
# Checkpoint tensors of the best epoch's weights (restore_best), beside the trainer's state.
BEST = "best/"


@dataclass
class LoopState:
    """Batch order, early stopping, the curve so far, time spent, and the best epoch's weights."""

    n_train: int
    order_rng: np.random.Generator  # one seeded stream for batch order, shared by every backend
    stopper: EarlyStopping | None
    val_accs: list[float] = field(default_factory=list)
    seconds: float = 0.0  # training time of earlier attempts
    best_epoch: int | None = None  # restore_best: the epoch whose weights `best_weights` are
    best_weights: Tensors | None = None

    @classmethod
    def fresh(cls, spec: ExperimentSpec, n_train: int) -> "LoopState":
        """The state before epoch 1."""
        rule = spec.training.early_stopping
        stopper = EarlyStopping(rule) if rule else None
        return cls(n_train, np.random.default_rng([spec.seed, 1]), stopper)

    def next_order(self) -> NDArray[np.int64]:
        """The order of the training examples for the next epoch."""
        return self.order_rng.permutation(self.n_train)

    def early_stop(
        self, epoch: int, metrics: Mapping[str, float], weights: Callable[[], Tensors]
    ) -> bool:
        """Tell the stopper this epoch's metric (keeping `weights()` if it is the best yet and
        the rule restores the best); True if training stops here."""
        if self.stopper is None:
            return False
        stop = self.stopper.should_stop(metrics[self.stopper.rule.metric])
        if self.stopper.rule.restore_best and self.stopper.stale_epochs == 0:
            self.best_epoch, self.best_weights = epoch, weights()
        return stop

    def to_json(self) -> dict[str, Any]:
        """The state as JSON (numpy's generator state is a dict of ints); see `tensors`."""
        stopper = self.stopper
        return {
            "order_rng": self.order_rng.bit_generator.state,
            "early_stopping": [stopper.best, stopper.stale_epochs] if stopper else None,
            "val_accs": self.val_accs,
            "seconds": self.seconds,
            "best_epoch": self.best_epoch,
        }

    def tensors(self) -> Tensors:
        """The best epoch's weights as checkpoint tensors (none without restore_best)."""
        return {BEST + name: value for name, value in (self.best_weights or {}).items()}

    @classmethod
    def restore(
        cls, spec: ExperimentSpec, n_train: int, saved: Mapping[str, Any], tensors: Tensors
    ) -> "LoopState":
        """The state `to_json` and `tensors` wrote, for this spec; KeyError if incomplete."""
        state = cls.fresh(spec, n_train)
        state.order_rng.bit_generator.state = saved["order_rng"]
        if state.stopper and saved["early_stopping"]:
            state.stopper.best, state.stopper.stale_epochs = saved["early_stopping"]
        state.val_accs = list(saved["val_accs"])
        state.seconds = float(saved["seconds"])
        state.best_epoch = saved.get("best_epoch")
        if state.best_epoch is not None:
            best = {k.removeprefix(BEST): v for k, v in tensors.items() if k.startswith(BEST)}
            if not best:
                raise KeyError("the best epoch's weights")
            state.best_weights = best
        return state


def trainer_tensors(tensors: Mapping[str, NDArray[Any]]) -> Tensors:
    """A checkpoint's tensors less the loop's own: the trainer's `state()`."""
    return {name: value for name, value in tensors.items() if not name.startswith(BEST)}
