"""The backend-neutral training loop: epochs, metrics, divergence, early stopping, summary."""

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from models.spec import ExperimentSpec
from models.spec.plan import Plan
from models.spec.resolve import plan_for
from workers.artifacts import TrainedModel
from workers.backends import get_backend
from workers.backends.base import EpochInterruptedError, Interrupt, Trainer
from workers.checkpoints import Checkpoint
from workers.datasets import DatasetArrays, load_dataset
from workers.environment import Environment, run_environment
from workers.init_weights import initial_weights
from workers.loop_state import LoopState, trainer_tensors

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

    A diverged or interrupted run has no summary and no model; a pruned one has both.
    """

    summary: dict[str, float]
    stopped: StopReason | None = None
    stopped_at: int | None = None
    model: TrainedModel | None = None  # the weights, for the artifacts of a run that trained


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
class _Training:
    """One attempt: the trainer, its plan and loop state, and what the summary and artifacts
    need besides."""

    trainer: Trainer
    plan: Plan
    state: LoopState
    data: DatasetArrays
    environment: Environment
    started: float = 0.0  # the perf_counter() reading at which (all attempts') training began

    def snapshot(self, epoch: int) -> Checkpoint:
        """A checkpoint of the run as it stands after `epoch`."""
        self.state.seconds = time.perf_counter() - self.started
        tensors = {**self.trainer.state(), **self.state.tensors()}
        return Checkpoint(epoch, tensors, self.state.to_json())

    def finish(self, stopped: StopReason | None = None, stopped_at: int | None = None) -> Outcome:
        """The summary (of the best epoch's weights under restore_best) and the model."""
        final, best = self.trainer.weights(), self.state.best_weights
        if best is not None:
            self.trainer.load_weights(best)
        seconds = time.perf_counter() - self.started
        summary = _summary(self.trainer, self.plan.n_params, self.state.val_accs, seconds)
        data = self.data
        model = TrainedModel(
            plan=self.plan,
            weights=final,
            best=best,
            best_epoch=self.state.best_epoch,
            environment=self.environment,
            mean=data.mean,
            std=data.std,
            class_names=data.class_names,
        )
        return Outcome(summary, stopped, stopped_at, model)


def _start(spec: ExperimentSpec, data: DatasetArrays, threads: int, hooks: RunHooks) -> _Training:
    """A trainer and its loop state: fresh, or after the newest fitting checkpoint."""
    plan = plan_for(spec, data.shape)  # the stored spec was resolved before it was accepted
    backend, weights = get_backend(spec.backend), initial_weights(plan, plan.seed)
    trainer = backend.create_trainer(plan, data, weights, spec.device, threads)
    state = LoopState.fresh(spec, len(data.train))
    saved = hooks.resume_from()
    if saved is not None:
        try:
            trainer.load_state(trainer_tensors(saved.tensors))
            state = LoopState.restore(spec, len(data.train), saved.state, saved.tensors)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("checkpoint of epoch %s does not fit (%s); starting over", saved.epoch, exc)
            trainer = backend.create_trainer(plan, data, weights, spec.device, threads)
    environment = run_environment(trainer.environment(), threads)
    return _Training(trainer, plan, state, data, environment)


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
    run = _start(spec, data, threads, hooks)
    trainer, state, last = run.trainer, run.state, spec.training.epochs
    hooks.started(len(state.val_accs), state.seconds, run.environment)
    run.started = time.perf_counter() - state.seconds
    for epoch in range(len(state.val_accs) + 1, last + 1):
        try:  # a stop asked for between batches abandons the epoch part-way
            metrics = _epoch(trainer, spec, state.next_order(), hooks.should_stop)
        except EpochInterruptedError:
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch - 1)
        state.val_accs.append(metrics["val_acc"])
        hooks.epoch_done(epoch, metrics)
        if not math.isfinite(metrics["train_loss"]):
            return Outcome(summary={}, stopped="diverged", stopped_at=epoch)
        if hooks.should_stop():
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch)
        stop = state.early_stop(epoch, metrics, trainer.weights)
        if hooks.should_prune(epoch, metrics):
            return run.finish("pruned", epoch)
        if stop:
            break
        if epoch < last:  # the finished run needs none
            hooks.checkpoint(epoch, partial(run.snapshot, epoch))
    return run.finish()
