"""Runs that differ only by seed, taken together: mean and 95% confidence interval."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats

from models.analysis.compare import flatten_spec
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
    half = float(stats.t.ppf((1 + CONFIDENCE) / 2, n - 1)) * sd / math.sqrt(n)
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
    """Mean and interval of one series across runs, epoch by epoch."""
    by_epoch = [dict(zip(c.epochs, c.series.get(key, []), strict=False)) for c in curves]
    shared = sorted(set.intersection(*(set(values) for values in by_epoch))) if by_epoch else []
    band = Band(epochs=[], mean=[], low=[], high=[])
    for epoch in shared:
        found = interval([values[epoch] for values in by_epoch])
        band.epochs.append(epoch)
        band.mean.append(found.mean if found else None)
        band.low.append(found.low if found else None)
        band.high.append(found.high if found else None)
    return band


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
