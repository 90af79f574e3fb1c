"""The backend-neutral training loop: epochs, metrics, divergence, early stopping, summary."""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from models.plan import build_plan
from models.spec import ExperimentSpec
from workers.backends import get_backend
from workers.backends.base import Trainer
from workers.datasets import load_dataset
from workers.early_stopping import EarlyStopping
from workers.init_weights import initial_weights

EpochCallback = Callable[[int, Mapping[str, float]], None]
# Asked after each finished epoch; True stops the run there (a search's pruner).
PruneCheck = Callable[[int, Mapping[str, float]], bool]


@dataclass(frozen=True)
class Outcome:
    """How training ended: the summary, and the epoch it diverged at or was pruned after."""

    summary: dict[str, float]
    diverged_at: int | None = None
    pruned_at: int | None = None


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


def train(
    spec: ExperimentSpec,
    *,
    threads: int,
    on_epoch: EpochCallback,
    should_prune: PruneCheck | None = None,
) -> Outcome:
    """Train `spec` to the end (or until pruned), reporting each epoch through `on_epoch`."""
    plan = build_plan(spec)
    data = load_dataset(spec.dataset)
    trainer = get_backend(spec.backend).create_trainer(
        plan, spec, data, initial_weights(plan, spec.seed), threads
    )
    # One seeded stream for batch order, shared by every backend.
    order_rng = np.random.default_rng([spec.seed, 1])
    rule = spec.training.early_stopping
    stopper = EarlyStopping(rule) if rule else None
    n_train = len(data.train)
    val_accs: list[float] = []
    started = time.perf_counter()
    for epoch in range(1, spec.training.epochs + 1):
        epoch_start = time.perf_counter()
        train = trainer.train_epoch(order_rng.permutation(n_train))
        train_seconds = time.perf_counter() - epoch_start
        val = trainer.evaluate("val")
        val_accs.append(val.acc)
        metrics = {
            "train_loss": train.loss,
            "penalty": trainer.penalty(),
            "train_acc": train.acc,
            "val_loss": val.loss,
            "val_acc": val.acc,
            "lr": spec.optimizer.lr,
            "epoch_seconds": time.perf_counter() - epoch_start,
            "samples_per_second": n_train / train_seconds,
        }
        on_epoch(epoch, metrics)
        if not math.isfinite(train.loss):
            return Outcome(summary={}, diverged_at=epoch)
        if should_prune and should_prune(epoch, metrics):
            seconds = time.perf_counter() - started
            return Outcome(_summary(trainer, plan.n_params, val_accs, seconds), pruned_at=epoch)
        monitored = metrics[rule.metric] if rule else 0.0
        if stopper and stopper.should_stop(monitored):
            break
    seconds = time.perf_counter() - started
    return Outcome(summary=_summary(trainer, plan.n_params, val_accs, seconds))
