"""The backend-neutral training loop: epochs, metrics, divergence, early stopping, summary."""

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from models.spec import ExperimentSpec
from models.spec.resolve import plan_for
from workers.backends import get_backend
from workers.backends.base import EpochInterruptedError, Interrupt, Trainer
from workers.checkpoints import Checkpoint
from workers.datasets import DatasetArrays, load_dataset
from workers.early_stopping import EarlyStopping
from workers.environment import Environment, run_environment
from workers.init_weights import initial_weights

log = logging.getLogger(__name__)
StopReason = Literal["diverged", "pruned", "interrupted"]


class RunHooks(Protocol):
    """What the loop tells the worker, and asks it, over a run's life."""

    def resume_from(self) -> Checkpoint | None:
        """The newest intact checkpoint to continue from, if any."""
        ...

    def started(self, epoch: int, trained_seconds: float, environment: Environment) -> None:
        """Told once before the first epoch: training continues after `epoch` (0: scratch).

        `environment` is what it trains in (framework, device, host, ...).
        """
        ...

    def epoch_done(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Told each finished epoch's metrics, in order."""
        ...

    def should_stop(self) -> bool:
        """Asked between batches and after epochs: True abandons the run (cancel, time limit)."""
        ...

    def should_prune(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Asked after each finished epoch: True ends the run there, pruned (a search's pruner)."""
        ...

    def checkpoint(self, epoch: int, snapshot: Callable[[], Checkpoint]) -> None:
        """Save `snapshot()` if a checkpoint is due after this epoch."""
        ...


class NoHooks:
    """Hooks that ask for nothing: train from scratch to the end, keeping nothing."""

    def resume_from(self) -> Checkpoint | None:
        """No checkpoint."""
        return None

    def started(self, epoch: int, trained_seconds: float, environment: Environment) -> None:
        """Nothing to do."""

    def epoch_done(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Nothing kept."""

    def should_stop(self) -> bool:
        """Never stop."""
        return False

    def should_prune(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Never prune."""
        return False

    def checkpoint(self, epoch: int, snapshot: Callable[[], Checkpoint]) -> None:
        """No checkpoints."""


NO_HOOKS = NoHooks()


@dataclass(frozen=True)
class Outcome:
    """How training ended: the summary, and why and at which epoch it stopped early, if it did.

    A diverged or interrupted run has no summary; a pruned one has.
    """

    summary: dict[str, float]
    stopped: StopReason | None = None
    stopped_at: int | None = None


def _summary(
    trainer: Trainer, n_params: int, val_acc: list[float], seconds: float
) -> dict[str, float]:
    test = trainer.evaluate("test")
    train_eval = trainer.evaluate("train")
    kernels = trainer.kernel_stats()
    best = int(np.argmax(val_acc))
    return {
        "test_loss": test.loss,
        "test_acc": test.acc,
        "best_val_acc": val_acc[best],
        "best_epoch": float(best + 1),
        "train_eval_acc": train_eval.acc,
        "generalization_gap": train_eval.acc - test.acc,
        "weight_l1": kernels.l1,
        "weight_l2": kernels.l2,
        "sparsity": kernels.sparsity,
        "n_params": float(n_params),
        "train_seconds": seconds,
    }


def _epoch(
    trainer: Trainer, spec: ExperimentSpec, order: NDArray[np.int64], interrupt: Interrupt | None
) -> dict[str, float]:
    """Train one epoch and evaluate it: the per-epoch metrics."""
    epoch_start = time.perf_counter()
    train = trainer.train_epoch(order, interrupt)
    train_seconds = time.perf_counter() - epoch_start
    val = trainer.evaluate("val")
    return {
        "train_loss": train.loss,
        "penalty": trainer.penalty(),
        "train_acc": train.acc,
        "val_loss": val.loss,
        "val_acc": val.acc,
        "lr": spec.optimizer.lr,
        "epoch_seconds": time.perf_counter() - epoch_start,
        "samples_per_second": len(order) / train_seconds,
    }


@dataclass
class LoopState:
    """What the loop carries from epoch to epoch; with the trainer's state, a checkpoint."""

    n_train: int
    order_rng: np.random.Generator  # one seeded stream for batch order, shared by every backend
    stopper: EarlyStopping | None
    val_accs: list[float] = field(default_factory=list)
    seconds: float = 0.0  # training time of earlier attempts

    @classmethod
    def fresh(cls, spec: ExperimentSpec, n_train: int) -> "LoopState":
        """The state before epoch 1."""
        rule = spec.training.early_stopping
        stopper = EarlyStopping(rule) if rule else None
        return cls(n_train, np.random.default_rng([spec.seed, 1]), stopper)

    def next_order(self) -> NDArray[np.int64]:
        """The order of the training examples for the next epoch."""
        return self.order_rng.permutation(self.n_train)

    def to_json(self) -> dict[str, Any]:
        """The state as JSON (numpy's generator state is a dict of ints)."""
        stopper = self.stopper
        return {
            "order_rng": self.order_rng.bit_generator.state,
            "early_stopping": [stopper.best, stopper.stale_epochs] if stopper else None,
            "val_accs": self.val_accs,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, spec: ExperimentSpec, n_train: int, saved: Mapping[str, Any]) -> "LoopState":
        """The state `to_json` wrote, for this spec."""
        state = cls.fresh(spec, n_train)
        state.order_rng.bit_generator.state = saved["order_rng"]
        if state.stopper and saved["early_stopping"]:
            state.stopper.best, state.stopper.stale_epochs = saved["early_stopping"]
        state.val_accs = list(saved["val_accs"])
        state.seconds = float(saved["seconds"])
        return state


def _start(
    spec: ExperimentSpec, data: DatasetArrays, threads: int, hooks: RunHooks
) -> tuple[Trainer, LoopState, int]:
    """A trainer, loop state and parameter count: fresh, or after the newest fitting checkpoint."""
    plan = plan_for(spec, data.shape)  # the stored spec was resolved before it was accepted
    backend, weights = get_backend(spec.backend), initial_weights(plan, plan.seed)
    trainer = backend.create_trainer(plan, data, weights, spec.device, threads)
    state = LoopState.fresh(spec, len(data.train))
    saved = hooks.resume_from()
    if saved is not None:
        try:
            trainer.load_state(saved.tensors)
            state = LoopState.from_json(spec, len(data.train), saved.state)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("checkpoint of epoch %s does not fit (%s); starting over", saved.epoch, exc)
            trainer = backend.create_trainer(plan, data, weights, spec.device, threads)
    return trainer, state, plan.n_params


def _snapshot(trainer: Trainer, state: LoopState, started: float, epoch: int) -> Checkpoint:
    """A checkpoint of the run as it stands after `epoch`."""
    state.seconds = time.perf_counter() - started
    return Checkpoint(epoch, trainer.state(), state.to_json())


def train(
    spec: ExperimentSpec,
    *,
    threads: int,
    hooks: RunHooks = NO_HOOKS,
    data: DatasetArrays | None = None,
) -> Outcome:
    """Train `spec` to the end, or until it diverges, is pruned or `hooks` stops it.

    `data` is what it trains on: the built-in dataset its spec names when None.
    """
    data = load_dataset(spec.dataset) if data is None else data
    trainer, state, n_params = _start(spec, data, threads, hooks)
    hooks.started(
        len(state.val_accs), state.seconds, run_environment(trainer.environment(), threads)
    )
    last, val_accs = spec.training.epochs, state.val_accs
    started = time.perf_counter() - state.seconds
    for epoch in range(len(val_accs) + 1, last + 1):
        try:  # a stop asked for between batches abandons the epoch part-way
            metrics = _epoch(trainer, spec, state.next_order(), hooks.should_stop)
        except EpochInterruptedError:
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch - 1)
        val_accs.append(metrics["val_acc"])
        hooks.epoch_done(epoch, metrics)
        if not math.isfinite(metrics["train_loss"]):
            return Outcome(summary={}, stopped="diverged", stopped_at=epoch)
        if hooks.should_stop():
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch)
        if hooks.should_prune(epoch, metrics):
            summary = _summary(trainer, n_params, val_accs, time.perf_counter() - started)
            return Outcome(summary, stopped="pruned", stopped_at=epoch)
        if state.stopper and state.stopper.should_stop(metrics[state.stopper.rule.metric]):
            break
        if epoch < last:  # the finished run needs none
            hooks.checkpoint(epoch, partial(_snapshot, trainer, state, started, epoch))
    return Outcome(_summary(trainer, n_params, val_accs, time.perf_counter() - started))
