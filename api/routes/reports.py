"""An experiment's regularization report and trade-off plot."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import ExperimentId, ProjectDep, SessionDep, experiment_or_404
from api.errors import not_found_response, unprocessable, unprocessable_response
from api.json_body import StrictJsonRoute
from api.plots import IMAGE, MEDIA_TYPES, ImageFormat, TradeoffPoint, tradeoff_plot
from api.schemas import IntervalRead, ReportRead, SettingRead, VerdictRead
from models import store
from models.analysis.report import FIGURES, Report, RunFacts, build_report
from models.search.spec import SearchSpec
from models.spec.paths import spec_path_kind

router = APIRouter(prefix="/experiments", tags=["reports"], route_class=StrictJsonRoute)
NOT_FOUND = not_found_response("experiment")
Target = Annotated[
    float,
    Query(gt=0, le=1, description="`epochs_to_target`: first epoch with val_acc >= this."),
]


def _report(
    session: SessionDep, project_id: int, experiment_id: int, target: float, x: str | None = None
) -> Report:
    """Build the report from the experiment's runs; `x` joins the swept fields for a plot."""
    experiment = experiment_or_404(session, project_id, experiment_id)
    search = SearchSpec.model_validate(experiment.search) if experiment.search else None
    reached = store.first_epoch_reaching(
        session=session, run_ids=[r.id for r in experiment.runs], key="val_acc", threshold=target
    )
    facts = [
        RunFacts(
            id=run.id,
            spec=run.spec,
            status=run.status,
            summary=run.summary or {},
            objective=run.objective_value,
            epochs_to_target=reached.get(run.id),
        )
        for run in experiment.runs
    ]
    swept = [p for p in search.space if p != "seed"] if search else []
    if x is not None and x not in swept:
        swept.append(x)
    metric = "objective" if search else "test_acc"
    return build_report(facts, swept, metric, search.objective.mode if search else "max")


@router.get("/{experiment_id}/report", response_model=ReportRead, responses=NOT_FOUND)
def experiment_report(
    experiment_id: ExperimentId,
    session: SessionDep,
    project_id: ProjectDep,
    target_val_acc: Target = 0.95,
) -> ReportRead:
    """Each swept setting's figures with seed mean and 95% interval, best first."""
    report = _report(session, project_id, experiment_id, target_val_acc)
    return ReportRead(
        experiment_id=experiment_id,
        swept=report.swept,
        metric=report.metric,
        mode=report.mode,
        target_val_acc=target_val_acc,
        settings=[
            SettingRead(
                **{k: v for k, v in vars(s).items() if k != "figures"},
                figures={k: IntervalRead(**vars(i)) for k, i in s.figures.items()},
            )
            for s in report.settings
        ],
        best=VerdictRead(**vars(report.best)) if report.best else None,
    )


@router.get(
    "/{experiment_id}/plot",
    response_class=Response,
    responses={**NOT_FOUND, **IMAGE, **unprocessable_response("Unknown x field or y key.")},
)
def experiment_plot(
    experiment_id: ExperimentId,
    session: SessionDep,
    project_id: ProjectDep,
    x: Annotated[
        str,
        Query(
            max_length=200, description="A swept spec path.", examples=["regularization.dropout"]
        ),
    ],
    y: Annotated[
        str,
        Query(
            max_length=300,
            description=f"Comma-separated figures to draw: {', '.join(FIGURES)}, objective.",
        ),
    ] = "test_acc,generalization_gap",
    format: Annotated[ImageFormat, Query(description="`png` or `svg`.")] = "png",
    target_val_acc: Target = 0.95,
) -> Response:
    """A trade-off curve: summary figures (seed mean, 95% interval) against one spec field."""
    try:
        spec_path_kind(x)
    except ValueError as exc:
        raise unprocessable(("query", "x"), str(exc)) from None
    keys = [k.strip() for k in y.split(",") if k.strip()]
    unknown = sorted(set(keys) - {*FIGURES, "objective"})
    if unknown or not keys:
        known = ", ".join([*FIGURES, "objective"])
        raise unprocessable(("query", "y"), f"unknown figures {unknown}; known: {known}")
    report = _report(session, project_id, experiment_id, target_val_acc, x)
    points = [
        TradeoffPoint(x=s.values[x], y={k: s.figures[k] for k in keys if k in s.figures})
        for s in report.settings
    ]
    return Response(tradeoff_plot(x, keys, points, format), media_type=MEDIA_TYPES[format])
