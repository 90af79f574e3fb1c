"""The regularization report of an experiment: each swept setting's figures over its seeds."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from models.analysis.compare import flatten_spec
from models.analysis.seed_groups import Interval, configuration_key, interval
from models.store.tables import RunStatus

FIGURES = (
    "test_acc",
    "generalization_gap",
    "best_epoch",
    "epochs_to_target",
    "weight_l1",
    "weight_l2",
    "sparsity",
    "test_loss",
)


@dataclass(frozen=True)
class RunFacts:
    """What the report needs of one run."""

    id: int
    spec: Mapping[str, Any]
    status: str
    summary: Mapping[str, float]
    objective: float | None
    epochs_to_target: int | None


@dataclass(frozen=True)
class Setting:
    """One configuration: the swept fields' values, its runs, and its figures over seeds."""

    values: dict[str, Any]
    run_ids: list[int]
    seeds: list[int]
    statuses: dict[str, int]
    figures: dict[str, Interval]


@dataclass(frozen=True)
class Verdict:
    """The best setting's lead over the runner-up, against the seed noise of both."""

    values: dict[str, Any]
    margin: float | None
    noise: float | None
    exceeds_noise: bool | None


@dataclass(frozen=True)
class Report:
    """Settings best first by `metric`, and the verdict on the best one."""

    swept: list[str]
    metric: str
    mode: Literal["max", "min"]
    settings: list[Setting]
    best: Verdict | None


def _setting(runs: Sequence[RunFacts], swept: Sequence[str]) -> Setting:
    """Figures of one configuration, over its succeeded runs."""
    flat = flatten_spec(runs[0].spec)
    done = [r for r in runs if r.status == RunStatus.SUCCEEDED]
    columns: dict[str, list[float | None]] = {
        name: [r.summary.get(name) for r in done] for name in FIGURES if name != "epochs_to_target"
    }
    columns["epochs_to_target"] = [
        float(r.epochs_to_target) if r.epochs_to_target is not None else None for r in done
    ]
    columns["objective"] = [r.objective for r in done]
    figures = {name: found for name, values in columns.items() if (found := interval(values))}
    return Setting(
        values={path: flat.get(path) for path in swept},
        run_ids=[r.id for r in runs],
        seeds=[int(r.spec["seed"]) for r in runs],
        statuses=dict(Counter(r.status for r in runs)),
        figures=figures,
    )


def _verdict(ranked: Sequence[Setting], metric: str) -> Verdict | None:
    """Margin of the best over the runner-up; the noise is both intervals' half-widths combined."""
    scored = [s for s in ranked if metric in s.figures]
    if not scored:
        return None
    best = scored[0]
    if len(scored) == 1:
        return Verdict(best.values, None, None, None)
    first, second = best.figures[metric], scored[1].figures[metric]
    margin = abs(first.mean - second.mean)
    if min(first.n, second.n) < 2:
        return Verdict(best.values, margin, None, None)
    noise = (first.half_width**2 + second.half_width**2) ** 0.5
    return Verdict(best.values, margin, noise, margin > noise)


def build_report(
    runs: Sequence[RunFacts], swept: Sequence[str], metric: str, mode: Literal["max", "min"]
) -> Report:
    """Group runs by configuration (all but the seed) and rank the settings by `metric`."""
    groups: dict[str, list[RunFacts]] = {}
    for run in runs:
        groups.setdefault(configuration_key(run.spec), []).append(run)
    settings = [_setting(group, swept) for group in groups.values()]
    sign = -1.0 if mode == "max" else 1.0

    def rank(setting: Setting) -> tuple[bool, float]:
        found = setting.figures.get(metric)
        return (found is None, sign * found.mean if found else 0.0)

    ranked = sorted(settings, key=rank)
    return Report(list(swept), metric, mode, ranked, _verdict(ranked, metric))
