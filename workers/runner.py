"""The backend-neutral training loop: epochs, metrics, divergence, early stopping, summary."""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from models.plan import build_plan
from models.spec import ExperimentSpec
from workers.backends import get_backend
from workers.backends.base import EpochInterruptedError, Interrupt, Trainer
from workers.datasets import load_dataset
from workers.early_stopping import EarlyStopping
from workers.init_weights import initial_weights

EpochCallback = Callable[[int, Mapping[str, float]], None]
# Asked after each finished epoch; True stops the run there (a search's pruner).
PruneCheck = Callable[[int, Mapping[str, float]], bool]
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


def train(
    spec: ExperimentSpec,
    *,
    threads: int,
    on_epoch: EpochCallback,
    should_prune: PruneCheck | None = None,
    interrupt: Interrupt | None = None,
) -> Outcome:
    """Train `spec` to the end (or until it diverges, is pruned or is interrupted).

    Each finished epoch goes to `on_epoch`; `interrupt` (a cancel, a time limit) is asked
    after each epoch and between batches, so a long epoch is abandoned part-way.
    """
    plan = build_plan(spec)
    data = load_dataset(spec.dataset)
    trainer = get_backend(spec.backend).create_trainer(
        plan, spec, data, initial_weights(plan, spec.seed), threads
    )
    # One seeded stream for batch order, shared by every backend.
    order_rng = np.random.default_rng([spec.seed, 1])
    rule = spec.training.early_stopping
    stopper = EarlyStopping(rule) if rule else None
    val_accs: list[float] = []
    started = time.perf_counter()
    for epoch in range(1, spec.training.epochs + 1):
        try:
            metrics = _epoch(trainer, spec, order_rng.permutation(len(data.train)), interrupt)
        except EpochInterruptedError:
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch - 1)
        val_accs.append(metrics["val_acc"])
        on_epoch(epoch, metrics)
        if not math.isfinite(metrics["train_loss"]):
            return Outcome(summary={}, stopped="diverged", stopped_at=epoch)
        if interrupt and interrupt():
            return Outcome(summary={}, stopped="interrupted", stopped_at=epoch)
        if should_prune and should_prune(epoch, metrics):
            summary = _summary(trainer, plan.n_params, val_accs, time.perf_counter() - started)
            return Outcome(summary, stopped="pruned", stopped_at=epoch)
        if stopper and stopper.should_stop(metrics[rule.metric] if rule else 0.0):
            break
    return Outcome(_summary(trainer, plan.n_params, val_accs, time.perf_counter() - started))
