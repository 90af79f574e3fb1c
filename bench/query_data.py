"""Deterministic data shared by the query benchmarks of reglab and of the MLflow baseline.

Stdlib only, so both the project venv and the bench-only MLflow venv can import it.
"""

import math
import random
from typing import Any

N_RUNS = 5000
LONG_HISTORY = 100_000
COMPARE_RUNS = 20
COMPARE_EPOCHS = 200

DROPOUTS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
L2S = [0.0, 1e-5, 1e-4, 1e-3]
LRS = [1e-3, 3e-3, 1e-2]
BACKENDS = ["torch", "tensorflow"]

# Runs with dropout = 0.3 and test_acc > 0.9, by test_acc descending, first page of 100.
SEARCH: dict[str, float] = {"dropout": 0.3, "min_test_acc": 0.9}
PAGE_SIZE = 100


def run_records(n: int = N_RUNS, seed: int = 0) -> list[dict[str, Any]]:
    """Return n finished runs, each with its params and summary metrics."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for _ in range(n):
        dropout = rng.choice(DROPOUTS)
        test_acc = 0.5 + 0.4999 * rng.betavariate(5, 2) + 0.0001 * dropout
        records.append(
            {
                "params": {
                    "dropout": dropout,
                    "l2": rng.choice(L2S),
                    "lr": rng.choice(LRS),
                    "seed": rng.randrange(5),
                    "backend": rng.choice(BACKENDS),
                },
                "summary": {
                    "test_acc": round(test_acc, 9),
                    "generalization_gap": round(rng.uniform(0.0, 0.2) * (1 - dropout), 6),
                    "best_epoch": float(rng.randint(1, 200)),
                    "sparsity": round(rng.random(), 6),
                },
                "status": "succeeded",
            }
        )
    return records


def _curve(rng: random.Random, n: int, start: float, floor: float, rate: float) -> list[float]:
    """Return a noisy exponential decay from start towards floor over epochs 1..n."""
    return [
        max(0.0, floor + (start - floor) * math.exp(-rate * e) + rng.gauss(0, 0.01))
        for e in range(1, n + 1)
    ]


def long_history(n: int = LONG_HISTORY, seed: int = 1) -> list[float]:
    """Return a noisy decaying loss curve with one value per epoch 1..n."""
    return _curve(random.Random(seed), n, 1.0, 0.05, 5.0 / n)


def compare_curves(
    runs: int = COMPARE_RUNS, epochs: int = COMPARE_EPOCHS, seed: int = 2
) -> list[dict[str, list[float]]]:
    """Return train_loss, val_loss and val_acc curves for each of runs runs."""
    rng = random.Random(seed)
    out: list[dict[str, list[float]]] = []
    for _ in range(runs):
        rate = rng.uniform(10, 30) / epochs
        train = _curve(rng, epochs, 1.0, 0.02, rate)
        val = _curve(rng, epochs, 1.0, rng.uniform(0.1, 0.3), rate)
        acc = [min(1.0, 1.0 - v / 2) for v in val]
        out.append({"train_loss": train, "val_loss": val, "val_acc": acc})
    return out


def search_expected(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the records that SEARCH must return, in order: the reference answer."""
    hits = [
        r
        for r in records
        if r["params"]["dropout"] == SEARCH["dropout"]
        and r["summary"]["test_acc"] > SEARCH["min_test_acc"]
    ]
    return sorted(hits, key=lambda r: -r["summary"]["test_acc"])[:PAGE_SIZE]
