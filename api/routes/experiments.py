"""Experiments: submit a spec, list and read experiments."""

from collections import Counter
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import Cursor, ExperimentId, Limit, ProjectDep, SessionDep
from api.enqueue import enqueue_run
from api.schemas import ExperimentCreate, ExperimentRead, Page, RunStatusRead
from models import store
from models.tables import Experiment, RunStatus

router = APIRouter(prefix="/experiments", tags=["experiments"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such experiment in this project."}
}


def _read(experiment: Experiment) -> ExperimentRead:
    counts = Counter(RunStatus(run.status) for run in experiment.runs)
    return ExperimentRead(
        id=experiment.id,
        name=experiment.name,
        spec=experiment.spec,
        created_at=experiment.created_at,
        runs=[RunStatusRead.model_validate(run) for run in experiment.runs],
        progress={s: counts.get(s, 0) for s in RunStatus},
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=ExperimentRead)
def create_experiment(
    body: ExperimentCreate, session: SessionDep, project_id: ProjectDep, response: Response
) -> ExperimentRead:
    """Accept a spec and queue its run; training happens in the background."""
    experiment = store.create_experiment(
        session=session, project_id=project_id, name=body.name, spec=body.spec.model_dump()
    )
    session.commit()
    for run in experiment.runs:
        enqueue_run(run.id, run.backend, run.spec["device"])
    response.headers["Location"] = f"/experiments/{experiment.id}"
    return _read(experiment)


@router.get("", response_model=Page[ExperimentRead])
def list_experiments(
    session: SessionDep, project_id: ProjectDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ExperimentRead]:
    """List experiments, newest first."""
    page = store.list_experiments(
        session=session, project_id=project_id, limit=limit, cursor=cursor
    )
    return Page(
        items=[_read(e) for e in page.items], total=page.total, next_cursor=page.next_cursor
    )


@router.get("/{experiment_id}", response_model=ExperimentRead, responses=NOT_FOUND)
def get_experiment(
    experiment_id: ExperimentId, session: SessionDep, project_id: ProjectDep
) -> ExperimentRead:
    """Read one experiment with the status of each of its runs."""
    experiment = store.get_experiment(
        session=session, project_id=project_id, experiment_id=experiment_id
    )
    if experiment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"experiment {experiment_id} not found")
    return _read(experiment)
