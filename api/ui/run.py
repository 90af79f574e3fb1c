"""The browser view: one run, its curves growing live as epochs finish."""

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.deps import ProjectDep, RunId, SessionDep
from api.routes.artifacts import list_run_artifacts
from api.routes.runs import get_run, get_run_metrics
from api.schemas import MetricsRead
from api.ui import curves
from api.ui.templating import render
from models.services.event_ids import RunMark, run_event_id
from models.store.tables import RunStatus

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
# The run page's plots and the series each draws.
PLOTS = {
    "loss": ("train_loss", "val_loss", "penalty"),
    "accuracy": ("train_acc", "val_acc"),
}
# Epochs read for the first drawing: a long history arrives downsampled in SQL, its shape kept.
MAX_POINTS = 1000
LIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})


def _plot(title: str, keys: tuple[str, ...], read: MetricsRead) -> dict[str, object]:
    """One plot: its series (those the run has, all of them before its first epoch), each
    named by its key, which is how the page's script extends it from the event stream."""
    drawn = [k for k in keys if k in read.series] if read.epochs else list(keys)
    traces = [
        curves.line(key, read.epochs, read.series.get(key, []), index)
        for index, key in enumerate(drawn)
    ]
    return {"id": f"plot-{title}", "figure": curves.figure(traces, title)}


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, run_id: RunId, session: SessionDep, project_id: ProjectDep
) -> Response:
    """A run: curves (live while it trains), spec, summary, error, artifacts, cancel."""
    run = get_run(run_id, session, project_id)
    keys = ",".join(key for keys in PLOTS.values() for key in keys)
    read = get_run_metrics(run_id, session, project_id, keys=keys, max_points=MAX_POINTS)
    last_epoch = read.epochs[-1] if read.epochs else 0
    return render(
        request,
        "run.html",
        run=run,
        spec_text=json.dumps(run.spec, indent=2),
        plots=[_plot(title, keys, read) for title, keys in PLOTS.items()],
        artifacts=list_run_artifacts(run_id, session, project_id),
        live=run.status in LIVE,
        last_epoch=last_epoch,
        # The stream starts after what the page shows: a long history is not sent again.
        follow_after=run_event_id(RunMark(last_epoch, run.status, run.attempts)),
    )
