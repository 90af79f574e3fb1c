"""The browser view: chosen runs side by side: overlaid curves (seed groups as mean and band)
labelled by the spec fields that differ, and the largest differences between them."""

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.deps import ProjectDep, SessionDep, parse_metric_keys
from api.errors import unprocessable
from api.plots import label_of
from api.routes.compare import GroupSeeds, RunIds, compare_runs
from api.schemas import CompareRead, SeedGroupRead
from api.ui import curves
from api.ui.templating import render
from models.analysis.compare import max_abs_difference
from models.metric_names import EPOCH_METRICS
from models.store.metrics import MetricSeries

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
# Epochs read per run: 100 runs stay a few tens of thousands of points however long they ran.
MAX_POINTS = 500
TABLE_KEYS = "train_loss,val_loss,val_acc"
Row = tuple[str, dict[str, float | None]]


def short_names(paths: list[str]) -> dict[str, str]:
    """Each dotted spec path by its last part where no other path ends the same way, so that
    a legend reads `dropout=0.3` rather than `regularization.dropout=0.3`."""
    last = Counter(path.rsplit(".", 1)[-1] for path in paths)
    return {p: p.rsplit(".", 1)[-1] if last[p.rsplit(".", 1)[-1]] == 1 else p for p in paths}


class Labels:
    """Legend labels: each run's (or seed group's) values of the spec fields that differ."""

    def __init__(self, view: CompareRead) -> None:
        grouped = view.groups is not None
        self.fields = {p: v for p, v in view.differing_spec.items() if not grouped or p != "seed"}
        self.names = short_names(list(self.fields))

    def of(self, run_id: int) -> str:
        """The label of a run, or of the seed group it leads."""
        return label_of({self.names[p]: values[run_id] for p, values in self.fields.items()})

    def of_group(self, group: SeedGroupRead) -> str:
        """A seed group's label, with its number of seeds."""
        return f"{self.of(group.run_ids[0])} ({len(group.run_ids)} seeds)"


def _series(view: CompareRead) -> dict[int, MetricSeries]:
    return {c.run_id: MetricSeries(c.epochs, c.series) for c in view.curves}


def _line(run: MetricSeries, run_id: int, labels: Labels, metric: str, index: int) -> curves.Trace:
    return curves.line(
        f"{run_id}: {labels.of(run_id)}", run.epochs, run.series.get(metric, []), index
    )


def _traces(view: CompareRead, labels: Labels, metric: str) -> list[curves.Trace]:
    """A line per run, or a mean line and 95% band per seed group of several runs."""
    series = _series(view)
    if view.groups is None:
        return [_line(series[i], i, labels, metric, n) for n, i in enumerate(view.run_ids)]
    traces: list[curves.Trace] = []
    for index, group in enumerate(view.groups):
        if len(group.run_ids) == 1:
            traces.append(_line(series[group.run_ids[0]], group.run_ids[0], labels, metric, index))
        else:
            traces += curves.band(labels.of_group(group), group.curves[metric], index)
    return traces


def _mean(group: SeedGroupRead, key: str) -> MetricSeries:
    return MetricSeries(group.curves[key].epochs, {key: group.curves[key].mean})


def _deviations(view: CompareRead, labels: Labels, keys: Sequence[str]) -> list[Row]:
    """Per key, the largest |difference| over epochs: each run against the first, or, with
    seed groups, within each group and between each group's mean and the first group's."""
    series, first = _series(view), view.run_ids[0]

    def worst(curves_: Sequence[MetricSeries]) -> dict[str, float | None]:
        return {key: max_abs_difference(curves_, key) for key in keys}

    if view.groups is None:
        return [
            (f"run {i} vs run {first}", worst([series[first], series[i]])) for i in view.run_ids[1:]
        ]
    rows: list[Row] = []
    reference = view.groups[0]
    for group in view.groups:
        if len(group.run_ids) > 1:
            spread = worst([series[r] for r in group.run_ids])
            rows.append((f"seeds of {labels.of_group(group)}", spread))
        if group is not reference:
            means = {k: max_abs_difference([_mean(reference, k), _mean(group, k)], k) for k in keys}
            rows.append((f"{labels.of_group(group)} vs {labels.of_group(reference)}", means))
    return rows


def _runs_table(view: CompareRead) -> list[dict[str, Any]]:
    return [
        {"id": i, "fields": {p: v[i] for p, v in view.differing_spec.items()}} for i in view.run_ids
    ]


def _one_metric(metric: str) -> str:
    keys = parse_metric_keys(metric, "metric")
    if len(keys) != 1:
        raise unprocessable(("query", "metric"), "one metric: the plot draws one series")
    return keys[0]


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    session: SessionDep,
    project_id: ProjectDep,
    run_ids: RunIds,
    metric: Annotated[str, Query(max_length=100, description="The series drawn.")] = "val_loss",
    keys: Annotated[
        str, Query(max_length=500, description="The series of the deviation table.")
    ] = TABLE_KEYS,
    group_seeds: GroupSeeds = True,
) -> Response:
    """Runs side by side: overlaid curves, seed groups, differing fields, max deviations."""
    drawn, table_keys = _one_metric(metric), parse_metric_keys(keys)
    wanted = ",".join(dict.fromkeys([drawn, *table_keys]))
    view = compare_runs(session, project_id, run_ids, wanted, group_seeds, MAX_POINTS)
    labels = Labels(view)
    return render(
        request,
        "compare.html",
        view=view,
        metric=drawn,
        metrics=EPOCH_METRICS,
        table_keys=table_keys,
        group_seeds=group_seeds,
        curves=curves.figure(_traces(view, labels, drawn), drawn, height=480),
        deviations=_deviations(view, labels, table_keys),
        runs=_runs_table(view),
        fields=list(view.differing_spec),
        max_points=MAX_POINTS,
    )
