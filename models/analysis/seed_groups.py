"""Runs that differ only by seed, taken together: mean and 95% confidence interval."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

from models.analysis.compare import flatten_spec, shared_values
from models.store.metrics import MetricSeries

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean of n values and its 95% t-interval (low = high = mean when n == 1)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width: the seed noise around the mean."""
        return (self.high - self.low) / 2


@lru_cache(maxsize=256)
def _t_quantile(degrees_of_freedom: int) -> float:
    """Student's t quantile of the interval: scipy takes ~50 us a call, and a band asks it at
    every epoch of every curve of every group."""
    return float(stats.t.ppf((1 + CONFIDENCE) / 2, degrees_of_freedom))


def interval(values: Sequence[float | None]) -> Interval | None:
    """Mean and t-interval of the finite values; None if there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return None
    mean = math.fsum(finite) / n
    if n == 1:
        return Interval(mean, mean, mean, 1)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    half = _t_quantile(n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def configuration_key(spec: Mapping[str, Any]) -> str:
    """The spec without its seed, as a comparable key."""
    flat = flatten_spec(spec)
    flat.pop("seed", None)
    return repr(sorted(flat.items()))


def group_by_configuration(specs: Mapping[int, Mapping[str, Any]]) -> list[list[int]]:
    """Run ids grouped by everything but the seed, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for run_id, spec in specs.items():
        groups.setdefault(configuration_key(spec), []).append(run_id)
    return list(groups.values())


@dataclass(frozen=True)
class Band:
    """A curve's seed mean and 95% interval per epoch, over the epochs every run has."""

    epochs: list[int]
    mean: list[float | None]
    low: list[float | None]
    high: list[float | None]


def curve_band(curves: Sequence[MetricSeries], key: str) -> Band:
    """Mean and interval of one series across runs, epoch by epoch: `interval` of each
    epoch's finite values, computed for every epoch at once."""
    if not curves:
        return Band(epochs=[], mean=[], low=[], high=[])
    epochs, values = shared_values(curves, key)
    finite = np.isfinite(values)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where n is 0 (or 1, for sd)
        mean = np.where(finite, values, 0.0).sum(axis=0) / n
        sd = np.sqrt((np.where(finite, values - mean, 0.0) ** 2).sum(axis=0) / (n - 1))
    quantile = np.zeros(len(n))
    for count in np.unique(n[n > 1]).tolist():
        quantile[n == count] = _t_quantile(count - 1)
    half = np.where(n > 1, quantile * sd / np.sqrt(np.maximum(n, 1)), 0.0)

    def listed(column: np.ndarray) -> list[float | None]:
        return [v if k else None for v, k in zip(column.tolist(), n.tolist(), strict=True)]

    return Band(epochs.tolist(), listed(mean), listed(mean - half), listed(mean + half))


@dataclass(frozen=True)
class SeedGroup:
    """Runs of one configuration: their ids, curve bands and summary intervals."""

    run_ids: list[int]
    seeds: list[int]
    bands: dict[str, Band]
    summary: dict[str, Interval]


def seed_groups(
    specs: Mapping[int, Mapping[str, Any]],
    curves: Mapping[int, MetricSeries],
    summaries: Mapping[int, Mapping[str, float]],
    keys: Sequence[str],
) -> list[SeedGroup]:
    """Group runs that differ only by seed and summarize each group."""
    groups = []
    for run_ids in group_by_configuration(specs):
        names = sorted({name for run_id in run_ids for name in summaries.get(run_id, {})})
        summary = {
            name: found
            for name in names
            if (found := interval([summaries.get(r, {}).get(name) for r in run_ids]))
        }
        groups.append(
            SeedGroup(
                run_ids=run_ids,
                seeds=[int(specs[r]["seed"]) for r in run_ids],
                bands={key: curve_band([curves[r] for r in run_ids], key) for key in keys},
                summary=summary,
            )
        )
    return groups
