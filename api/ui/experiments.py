"""The browser view: the experiments list and an experiment's page (its runs, its report with
intervals, a trade-off plot of any swept field, and for a search Optuna's own pictures)."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import (
    Cursor,
    ExperimentId,
    ProjectDep,
    SessionDep,
    SessionmakerDep,
    experiment_or_404,
)
from api.routes.experiments import get_experiment, list_experiments
from api.routes.reports import experiment_report
from api.routes.runs import list_runs
from api.schemas import ReportRead
from api.ui import tables
from api.ui.templating import render
from api.ui.tradeoff import tradeoff_figure
from models.analysis.compare import flatten_spec
from models.analysis.report import FIGURES
from models.search.figures import search_figures
from models.search.spec import SearchSpec
from models.services.searches import database_url
from models.store.tables import RunStatus

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
TARGET_VAL_ACC = 0.95  # the report's default target for epochs_to_target
FieldName = Annotated[str, Query(max_length=300)]


@dataclass(frozen=True)
class Axes:
    """The trade-off plot's axes as asked for (empty: the defaults)."""

    x: FieldName = ""
    y: FieldName = ""


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(
    request: Request, session: SessionDep, project_id: ProjectDep, cursor: Cursor = None
) -> Response:
    """The project's experiments, newest first: status counts, best run, created; paged."""
    page = list_experiments(session, project_id, limit=tables.PAGE_SIZE, cursor=cursor)
    return render(
        request, "experiments.html", page=page, next_url=tables.next_url(request, page.next_cursor)
    )


def _tradeoff(report: ReportRead, x: str, y: str) -> dict[str, Any]:
    """The trade-off plot's choices, the chosen x and y, and its figure (None: nothing swept)."""
    y_choices = [k for k in (*FIGURES, "objective") if any(k in s.figures for s in report.settings)]
    x = x or (report.swept[0] if report.swept else "")
    y = y or report.metric
    notice = ""
    if report.swept and x not in report.swept:
        notice, x = f"{x!r} is not a swept field; showing {report.swept[0]}", report.swept[0]
    if y_choices and y not in y_choices:
        notice, y = f"no setting has a value of {y!r}; showing {y_choices[0]}", y_choices[0]
    drawn = bool(report.swept and y_choices)
    return {
        "x": x,
        "y": y,
        "x_choices": report.swept,
        "y_choices": y_choices,
        "notice": notice,
        "figure": tradeoff_figure(report, x, y) if drawn else None,
    }


@router.get("/experiments/{experiment_id}/search-figures", response_class=JSONResponse)
def search_figures_data(
    experiment_id: ExperimentId,
    session: SessionDep,
    sessions: SessionmakerDep,
    project_id: ProjectDep,
) -> Response:
    """Optuna's pictures of a search's finished trials as plotly figures by name (none for a
    single run, nor before two trials finish). Fetched by the page after it loads: for a
    search of 1,000 trials they took 2 s here, the page itself 0.5 s."""
    experiment = experiment_or_404(session, project_id, experiment_id)
    if experiment.search is None or experiment.study_name is None:
        return JSONResponse({})
    search = SearchSpec.model_validate(experiment.search)
    # Plain JSON as plotly wrote it: no response model to walk through a megabyte of figures.
    return JSONResponse(search_figures(database_url(sessions), experiment.study_name, search))


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
def experiment_page(
    request: Request,
    experiment_id: ExperimentId,
    session: SessionDep,
    project_id: ProjectDep,
    axes: Annotated[Axes, Depends()],
    order_by: tables.OrderText = "",
    cursor: Cursor = None,
) -> Response:
    """An experiment: its report with intervals, the trade-off plot of a swept field, Optuna's
    pictures of a search, its runs (sortable by summary values), cancel."""
    experiment = get_experiment(experiment_id, session, project_id)
    report = experiment_report(experiment_id, session, project_id, TARGET_VAL_ACC)
    typed = tables.parse_typed("", order_by)
    runs = list_runs(
        session, project_id, None, typed.order, experiment_id, tables.PAGE_SIZE, cursor
    )
    return render(
        request,
        "experiment.html",
        experiment=experiment,
        cancellable=experiment.cancelled_at is None
        and any(r.status in ACTIVE for r in experiment.runs),
        report=report,
        tradeoff=_tradeoff(report, axes.x, axes.y),
        runs=runs,
        swept_values={
            r.id: [flatten_spec(r.spec).get(p) for p in report.swept] for r in runs.items
        },
        objectives={r.id: r.objective_value for r in experiment.runs}
        if experiment.search
        else None,
        table=tables.table_context(request, order_by, typed, runs.next_cursor),
    )
