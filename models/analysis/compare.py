"""Side-by-side comparison of runs: which spec fields differ and how far their curves drift."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

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


def max_relative_deviation(curves: Sequence[MetricSeries], key: str) -> float | None:
    """Largest |v - v_ref| / |v_ref| over shared epochs, the first run being the reference.

    None when no epoch has a finite, non-zero reference value in every run.
    """
    by_epoch = [dict(zip(c.epochs, c.series.get(key, []), strict=False)) for c in curves]
    worst: float | None = None
    for epoch, reference in by_epoch[0].items():
        if reference is None or reference == 0 or not math.isfinite(reference):
            continue
        others = [values.get(epoch) for values in by_epoch[1:]]
        finite = [v for v in others if v is not None and math.isfinite(v)]
        if len(finite) < len(others):
            continue
        deviation = max(abs(v - reference) / abs(reference) for v in finite)
        worst = deviation if worst is None else max(worst, deviation)
    return worst


def max_abs_difference(curves: Sequence[MetricSeries], key: str) -> float | None:
    """Largest |difference| between any two of the curves, over the epochs at which every one
    has a finite value: a pair's worst gap, or a seed group's widest spread.

    None when no such epoch exists.
    """
    by_epoch = [dict(zip(c.epochs, c.series.get(key, []), strict=False)) for c in curves]
    worst: float | None = None
    for epoch in by_epoch[0] if by_epoch else ():
        values = [values.get(epoch) for values in by_epoch]
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if len(finite) < len(values):
            continue
        spread = max(finite) - min(finite)
        worst = spread if worst is None else max(worst, spread)
    return worst
