"""Runs: status, summary, error and per-epoch curves."""

from collections.abc import Mapping, Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from api.deps import (
    Cursor,
    KeyDep,
    Limit,
    ProjectDep,
    RunFilter,
    RunId,
    RunOrder,
    SessionDep,
    SessionmakerDep,
    parse_metric_keys,
)
from api.errors import conflict_response, not_found, not_found_response, unprocessable_response
from api.json_body import StrictJsonRoute
from api.schemas import MetricsRead, RunErrorRead, RunRead
from models import store
from models.messaging.queue import queue_for
from models.metric_names import EPOCH_METRICS
from models.services.experiments import cancel_run as cancel
from models.store.actors import public_key_ids
from models.store.pages import Page
from models.store.tables import MAX_INT, Run, RunStatus, utcnow

router = APIRouter(prefix="/runs", tags=["runs"], route_class=StrictJsonRoute)
NOT_FOUND = not_found_response("run")


def _live_queues(session: Session, runs: Sequence[Run]) -> set[str]:
    """The queues live workers serve, asked of the store (once) only if some run is queued."""
    if not any(run.status == RunStatus.QUEUED for run in runs):
        return set()
    return store.live_queues(session=session, now=utcnow())


def _waiting_for(run: Run, live_queues: set[str]) -> str | None:
    """What a queued run needs that no live worker offers; None if nothing is missing."""
    device = run.spec["device"]
    if run.status != RunStatus.QUEUED or queue_for(run.backend, device) in live_queues:
        return None
    return f"a worker{' with CUDA' if device == 'cuda' else ''} for {run.backend}"


def _read(run: Run, live_queues: set[str], keys: Mapping[int | None, str]) -> RunRead:
    error = (
        RunErrorRead(type=run.error_type, message=run.error_message or "", epoch=run.error_epoch)
        if run.error_type
        else None
    )
    derived = {
        "error": error,
        "waiting_for": _waiting_for(run, live_queues),
        "cancelled_by_key": keys.get(run.cancelled_by_key_id),
    }
    stored = {c: getattr(run, c) for c in RunRead.model_fields if c not in derived}
    return RunRead.model_validate({**stored, **derived})


def _read_all(session: Session, runs: Sequence[Run]) -> list[RunRead]:
    """The runs as read, with one query for live queues and one for the keys that cancelled."""
    live_queues = _live_queues(session, runs)
    keys = public_key_ids(session=session, row_ids=[run.cancelled_by_key_id for run in runs])
    return [_read(run, live_queues, keys) for run in runs]


def _get(run_id: int, session: SessionDep, project_id: int) -> Run:
    run = store.get_run(session=session, project_id=project_id, run_id=run_id)
    if run is None:
        raise not_found(("path", "run_id"), f"run {run_id} not found")
    return run


@router.get("", response_model=Page[RunRead])
def list_runs(
    session: SessionDep,
    project_id: ProjectDep,
    where: RunFilter,
    order: RunOrder,
    experiment_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT, description="Only this experiment's runs.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[RunRead]:
    """Find runs: filter, order and page through them; `total` counts every match."""
    page = store.list_runs(
        session=session,
        project_id=project_id,
        experiment_id=experiment_id,
        where=where,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    return Page[RunRead](
        items=_read_all(session, page.items), total=page.total, next_cursor=page.next_cursor
    )


@router.post(
    "/{run_id}/cancel",
    response_model=RunRead,
    responses={**NOT_FOUND, **conflict_response("The run has already finished.")},
)
def cancel_run(
    run_id: RunId, session: SessionDep, sessions: SessionmakerDep, key: KeyDep
) -> RunRead:
    """Cancel a run: a queued one never starts, a running one stops within seconds."""
    cancel(sessions, project_id=key.project_id, run_id=run_id, cancelled_by=key.id)
    return _read_all(session, [_get(run_id, session, key.project_id)])[0]


@router.get("/{run_id}", response_model=RunRead, responses=NOT_FOUND)
def get_run(run_id: RunId, session: SessionDep, project_id: ProjectDep) -> RunRead:
    """Read one run: status, epochs done, summary, error, and what a queued one waits for."""
    return _read_all(session, [_get(run_id, session, project_id)])[0]


@router.get(
    "/{run_id}/metrics",
    response_model=MetricsRead,
    responses={**NOT_FOUND, **unprocessable_response("Unknown metric key or bad bound.")},
)
def get_run_metrics(
    run_id: RunId,
    session: SessionDep,
    project_id: ProjectDep,
    keys: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Comma-separated series to return; all when omitted. Per-epoch "
            f"series: {', '.join(EPOCH_METRICS)}.",
            examples=["train_loss,val_acc"],
        ),
    ] = None,
    max_points: Annotated[
        int | None,
        Query(
            ge=2,
            le=100_000,
            description="Downsample to at most this many epochs, keeping each series' minimum "
            "and maximum per bucket of epochs (and the first and last epoch); evenly spaced "
            "epochs when the budget is under 2 points per series and bucket.",
        ),
    ] = None,
) -> MetricsRead:
    """Per-epoch curves, readable while the run trains."""
    if not store.has_run(session=session, project_id=project_id, run_id=run_id):
        raise not_found(("path", "run_id"), f"run {run_id} not found")
    wanted = parse_metric_keys(keys) if keys else None
    curves = store.read_metrics(session=session, run_id=run_id, keys=wanted, max_points=max_points)
    return MetricsRead(run_id=run_id, epochs=curves.epochs, series=curves.series)
