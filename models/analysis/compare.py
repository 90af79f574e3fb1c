"""Side-by-side comparison of runs: which spec fields differ and how far their curves drift."""

from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import numpy as np

from models.store.metrics import MetricSeries


def flatten_spec(spec: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested spec as dotted paths to leaf values (lists stay whole)."""
    flat: dict[str, Any] = {}
    for key, value in spec.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_spec(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def differing_fields(specs: Mapping[int, Mapping[str, Any]]) -> dict[str, dict[int, Any]]:
    """Dotted spec paths whose value is not the same in every run, with each run's value."""
    flat = {run_id: flatten_spec(spec) for run_id, spec in specs.items()}
    paths = sorted({path for values in flat.values() for path in values})
    differing = {}
    for path in paths:
        values = {run_id: values.get(path) for run_id, values in flat.items()}
        if len({repr(v) for v in values.values()}) > 1:
            differing[path] = values
    return differing


def _intersection(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Epochs in both (most often the same epochs: then cheaply so)."""
    if np.array_equal(first, second):
        return first
    return np.intersect1d(first, second, assume_unique=True)


def shared_values(curves: Sequence[MetricSeries], key: str) -> tuple[np.ndarray, np.ndarray]:
    """The epochs every curve has `key` at, and each curve's values there (a row per curve,
    NaN where a value is null). Curves hold sorted epochs, as the store reads them."""
    epochs = [np.asarray(c.epochs if key in c.series else [], dtype=np.int64) for c in curves]
    shared = reduce(_intersection, epochs)
    rows = [
        np.asarray(curve.series.get(key, []), dtype=float)[np.searchsorted(own, shared)]
        for curve, own in zip(curves, epochs, strict=True)
    ]
    return shared, np.vstack(rows)


def max_relative_deviation(curves: Sequence[MetricSeries], key: str) -> float | None:
    """Largest |v - v_ref| / |v_ref| over shared epochs, the first run being the reference.

    None when no epoch has a finite, non-zero reference value in every run.
    """
    if len(curves) < 2:
        return None
    values = shared_values(curves, key)[1]
    usable = np.isfinite(values).all(axis=0) & (values[0] != 0)
    if not usable.any():
        return None
    reference, others = values[0, usable], values[1:, usable]
    return float((np.abs(others - reference) / np.abs(reference)).max())


def max_abs_difference(curves: Sequence[MetricSeries], key: str) -> float | None:
    """Largest |difference| between any two of the curves, over the epochs at which every one
    has a finite value: a pair's worst gap, or a seed group's widest spread.

    None when no such epoch exists.
    """
    if not curves:
        return None
    values = shared_values(curves, key)[1]
    values = values[:, np.isfinite(values).all(axis=0)]
    if not values.size:
        return None
    return float((values.max(axis=0) - values.min(axis=0)).max())
