"""Compare runs side by side: aligned curves, differing spec fields, seed groups."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import ProjectDep, SessionDep, parse_metric_keys
from api.errors import not_found, not_found_response, unprocessable
from api.json_body import StrictJsonRoute
from api.plots import IMAGE, MEDIA_TYPES, ImageFormat, curves_plot, label_of
from api.schemas import (
    BandRead,
    CompareRead,
    IntervalRead,
    MetricsRead,
    SeedGroupRead,
)
from models import store
from models.analysis.compare import differing_fields, max_relative_deviation
from models.analysis.seed_groups import seed_groups
from models.metric_names import EPOCH_METRICS
from models.store.metrics import IN_CHUNK, MetricSeries, evenly_spaced
from models.store.run_sets import get_runs, read_whole_metrics
from models.store.tables import MAX_INT, Run

router = APIRouter(tags=["compare"], route_class=StrictJsonRoute)
MAX_COMPARED = 100
NOT_FOUND = not_found_response("run (one of `run_ids`)")


def parse_run_ids(raw: str) -> list[int]:
    """Distinct run ids, in the order given; 422 unless there are 2 to MAX_COMPARED."""
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise unprocessable(("query", "run_ids"), "comma-separated integers") from None
    if not all(1 <= i <= MAX_INT for i in ids):
        raise unprocessable(("query", "run_ids"), f"run ids are 1 to {MAX_INT}")
    ids = list(dict.fromkeys(ids))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise unprocessable(("query", "run_ids"), f"2 to {MAX_COMPARED} distinct ids")
    return ids


def load_runs(session: SessionDep, project_id: int, ids: list[int]) -> list[Run]:
    """The project's runs with these ids, in order; 404 naming any that is missing."""
    found = get_runs(session=session, project_id=project_id, run_ids=ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise not_found(("query", "run_ids"), f"runs {missing} not found")
    return [found[i] for i in ids]


def read_curves(
    session: SessionDep, runs: list[Run], keys: list[str], max_points: int | None = None
) -> dict[int, MetricSeries]:
    """The runs' curves, in order: the short ones whole in one read, each longer one
    downsampled to `max_points` epochs."""
    short = [r.id for r in runs if max_points is None or r.epochs_done <= max_points]
    curves = read_whole_metrics(session=session, run_ids=short, keys=keys)
    return {
        run.id: curves[run.id]
        if run.id in curves
        else store.read_metrics(session=session, run_id=run.id, keys=keys, max_points=max_points)
        for run in runs
    }


def aligned_curves(
    session: SessionDep,
    runs: list[Run],
    keys: list[str],
    max_points: int | None,
    curves: dict[int, MetricSeries],
) -> dict[int, MetricSeries]:
    """What seed bands and deviations compare: `curves` when every run is whole in them,
    else every run at the same evenly spaced epochs (a run downsampled to its own extremes
    keeps epochs the other runs lack: bands would have next to no epochs in common)."""
    if max_points is None or all(run.epochs_done <= max_points for run in runs):
        return curves
    last = max(run.epochs_done for run in runs)
    grid = evenly_spaced(last, min(max_points, IN_CHUNK))
    return read_whole_metrics(
        session=session, run_ids=[run.id for run in runs], keys=keys, epochs=grid
    )


RunIds = Annotated[
    str,
    Query(
        max_length=2000,
        description=f"Comma-separated run ids (2-{MAX_COMPARED}); the first is the reference.",
        examples=["1,2"],
    ),
]
GroupSeeds = Annotated[
    bool, Query(description="Group runs that differ only by seed: mean and 95% interval.")
]
MaxPoints = Annotated[
    int | None,
    Query(
        ge=2,
        le=100_000,
        description="Downsample each run's curves to at most this many epochs, as "
        "`GET /runs/{id}/metrics` does; seed bands and deviations then compare the runs at "
        "the same evenly spaced epochs (at most this many, and 5,000). All epochs when "
        "omitted.",
        examples=[500],
    ),
]


@router.get("/compare", response_model=CompareRead, responses=NOT_FOUND)
def compare_runs(
    session: SessionDep,
    project_id: ProjectDep,
    run_ids: RunIds,
    keys: Annotated[
        str, Query(max_length=500, description="Comma-separated per-epoch series to compare.")
    ] = "train_loss,val_loss,val_acc",
    group_seeds: GroupSeeds = False,
    max_points: MaxPoints = None,
) -> CompareRead:
    """Curves and summaries of several runs, the spec fields that differ, seed groups."""
    ids = parse_run_ids(run_ids)
    wanted = parse_metric_keys(keys)
    runs = load_runs(session, project_id, ids)
    curves = read_curves(session, runs, wanted, max_points)
    aligned = aligned_curves(session, runs, wanted, max_points, curves)
    summaries = {run.id: run.summary or {} for run in runs}
    specs = {run.id: run.spec for run in runs}
    groups = seed_groups(specs, aligned, summaries, wanted) if group_seeds else None
    return CompareRead(
        run_ids=ids,
        curves=[MetricsRead(run_id=i, epochs=c.epochs, series=c.series) for i, c in curves.items()],
        differing_spec=differing_fields(specs),
        max_relative_deviation={
            key: max_relative_deviation([aligned[i] for i in ids], key) for key in wanted
        },
        summaries=summaries,
        groups=[
            SeedGroupRead(
                run_ids=group.run_ids,
                seeds=group.seeds,
                curves={k: BandRead(**vars(band)) for k, band in group.bands.items()},
                summary={k: IntervalRead(**vars(i)) for k, i in group.summary.items()},
            )
            for group in groups
        ]
        if groups is not None
        else None,
    )


@router.get(
    "/compare/plot",
    response_class=Response,
    responses={**NOT_FOUND, **IMAGE},
)
def compare_plot(
    session: SessionDep,
    project_id: ProjectDep,
    run_ids: RunIds,
    key: Annotated[
        str,
        Query(max_length=100, description=f"The series to draw: {', '.join(EPOCH_METRICS)}."),
    ] = "val_acc",
    format: Annotated[ImageFormat, Query(description="`png` or `svg`.")] = "png",
    group_seeds: GroupSeeds = False,
) -> Response:
    """Overlaid curves of one key, labelled by the spec fields that differ; seed groups as bands."""
    ids = parse_run_ids(run_ids)
    keys = parse_metric_keys(key, "key")
    if len(keys) != 1:
        raise unprocessable(("query", "key"), "one key: a plot draws one series")
    wanted = keys[0]
    runs = load_runs(session, project_id, ids)
    specs = {run.id: run.spec for run in runs}
    curves = read_curves(session, runs, [wanted])
    differing = differing_fields(specs)
    if group_seeds:
        differing.pop("seed", None)
        groups = seed_groups(specs, curves, {}, [wanted])
        bands = [
            (label_of({p: v[g.run_ids[0]] for p, v in differing.items()}), g.bands[wanted])
            for g in groups
        ]
        image = curves_plot(wanted, [], bands, format)
    else:
        lines = [(label_of({p: v[i] for p, v in differing.items()}), curves[i]) for i in ids]
        image = curves_plot(wanted, lines, [], format)
    return Response(image, media_type=MEDIA_TYPES[format])
