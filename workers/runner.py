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
from workers.datasets import load_dataset
from workers.early_stopping import EarlyStopping
from workers.init_weights import initial_weights

log = logging.getLogger(__name__)
EpochCallback = Callable[[int, Mapping[str, float]], None]
# Asked after each finished epoch; True stops the run there (a search's pruner).
PruneCheck = Callable[[int, Mapping[str, float]], bool]
# Told once, before the first epoch: the epoch training continues after (0: from scratch)
# and the seconds earlier attempts trained.
StartCallback = Callable[[int, float], None]
StopReason = Literal["diverged", "pruned", "interrupted"]


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


class Checkpoints(Protocol):
    """Where a run's checkpoints come from and go to, and how often they are taken."""

    def latest(self) -> Checkpoint | None:
        """The newest intact checkpoint of this run, if any."""
        ...

    def starting(self, epoch: int) -> None:
        """Told where training starts: after `epoch` (0: from scratch); newer ones are void."""
        ...

    def after_epoch(self, epoch: int, snapshot: Callable[[], Checkpoint]) -> None:
        """Save `snapshot()` if a checkpoint is due after this epoch."""
        ...


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
    spec: ExperimentSpec, threads: int, checkpoints: Checkpoints | None
) -> tuple[Trainer, LoopState, int]:
    """A trainer, loop state and parameter count: fresh, or after the newest fitting checkpoint."""
    data = load_dataset(spec.dataset)
    plan = plan_for(spec, data.shape)  # the stored spec was resolved before it was accepted
    backend, weights = get_backend(spec.backend), initial_weights(plan, spec.seed)
    trainer = backend.create_trainer(plan, data, weights, spec.device, threads)
    state = LoopState.fresh(spec, len(data.train))
    saved = checkpoints.latest() if checkpoints else None
    if saved is not None:
        try:
            trainer.load_state(saved.tensors)
            state = LoopState.from_json(spec, len(data.train), saved.state)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("checkpoint of epoch %s does not fit (%s); starting over", saved.epoch, exc)
            trainer = backend.create_trainer(plan, data, weights, spec.device, threads)
    if checkpoints is not None:
        checkpoints.starting(len(state.val_accs))
    return trainer, state, plan.n_params


def _snapshot(trainer: Trainer, state: LoopState, started: float, epoch: int) -> Checkpoint:
    """A checkpoint of the run as it stands after `epoch`."""
    state.seconds = time.perf_counter() - started
    return Checkpoint(epoch, trainer.state(), state.to_json())


def train(
    spec: ExperimentSpec,
    *,
    threads: int,
    on_epoch: EpochCallback,
    should_prune: PruneCheck | None = None,
    interrupt: Interrupt | None = None,
    checkpoints: Checkpoints | None = None,
    on_start: StartCallback | None = None,
) -> Outcome:
    """Train `spec` to the end (or until it diverges, is pruned or is interrupted).

    Each finished epoch goes to `on_epoch`; `interrupt` (a cancel, a time limit) is asked
    after each epoch and between batches, so a long epoch is abandoned part-way. With
    `checkpoints`, training continues after the newest checkpoint and saves new ones;
    `on_start` hears where it continues (epoch, seconds trained before).
    """
    trainer, state, n_params = _start(spec, threads, checkpoints)
    if on_start is not None:
        on_start(len(state.val_accs), state.seconds)
    rule, stopper, val_accs = spec.training.early_stopping, state.stopper, state.val_accs
    started = time.perf_counter() - state.seconds
    for epoch in range(len(val_accs) + 1, spec.training.epochs + 1):
        try:
            metrics = _epoch(trainer, spec, state.next_order(), interrupt)
        except EpochInterruptedError:
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch - 1)
        val_accs.append(metrics["val_acc"])
        on_epoch(epoch, metrics)
        if not math.isfinite(metrics["train_loss"]):
            return Outcome(summary={}, stopped="diverged", stopped_at=epoch)
        if interrupt and interrupt():
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch)
        if should_prune and should_prune(epoch, metrics):
            summary = _summary(trainer, n_params, val_accs, time.perf_counter() - started)
            return Outcome(summary, stopped="pruned", stopped_at=epoch)
        if stopper and stopper.should_stop(metrics[rule.metric] if rule else 0.0):
            break
        if checkpoints and epoch < spec.training.epochs:
            checkpoints.after_epoch(epoch, partial(_snapshot, trainer, state, started, epoch))
    return Outcome(_summary(trainer, n_params, val_accs, time.perf_counter() - started))
