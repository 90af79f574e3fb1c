"""Experiments: submit a spec, list and read experiments."""

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Response, status
from fastapi.openapi.models import Example
from sqlalchemy.orm import Session

from api.broker import DispatcherDep
from api.deps import (
    CatalogDep,
    Cursor,
    ExperimentId,
    KeyDep,
    Limit,
    ProjectDep,
    SessionDep,
    SessionmakerDep,
    experiment_or_404,
)
from api.errors import conflict_response, not_found_response, unprocessable_response
from api.idempotency import IdempotencyKey, request_fingerprint
from api.json_body import StrictJsonRoute
from api.schemas import (
    SPEC_EXAMPLE,
    BestRunRead,
    ExperimentCreate,
    ExperimentRead,
    RunStatusRead,
)
from models import store
from models.analysis.compare import flatten_spec
from models.search.spec import SearchSpec
from models.services import experiments as services
from models.services.experiments import Submission, submit_experiment
from models.services.searches import send_top_up
from models.store.actors import public_key_ids
from models.store.pages import Page
from models.store.tables import Experiment, Run, RunStatus

# A large search's top-up takes seconds to tens of seconds: two threads of their own, so
# that many searches POSTed at once never hold the threads every sync route runs in.
TOP_UPS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="search-top-up")
router = APIRouter(prefix="/experiments", tags=["experiments"], route_class=StrictJsonRoute)
CREATE_EXAMPLES: dict[str, Example] = {
    "one run": {
        "summary": "One run: the digits MLP with dropout, batch norm and L2",
        "value": {"name": "digits-dropout-bn", "spec": SPEC_EXAMPLE},
    },
    "dropout grid": {
        "summary": "A grid over dropout, two seeds each: 6 runs, then GET .../report",
        "value": {
            "name": "dropout-grid",
            "spec": {**SPEC_EXAMPLE, "regularization": {"batchnorm": True, "l2": 1e-4}},
            "search": {"space": {"regularization.dropout": [0.0, 0.3, 0.6]}, "seeds": [0, 1]},
        },
    },
    "tpe with pruning": {
        "summary": "TPE over learning rate and L2, 12 trials, median pruner",
        "value": {
            "name": "lr-l2-tpe",
            "spec": SPEC_EXAMPLE,
            "search": {
                "method": "tpe",
                "space": {
                    "optimizer.lr": {"log_uniform": [1e-4, 1e-1]},
                    "regularization.l2": {"log_uniform": [1e-6, 1e-2]},
                },
                "trials": 12,
                "max_parallel": 2,
                "objective": {"metric": "val_acc", "mode": "max"},
                "pruner": {"kind": "median", "warmup_epochs": 3},
            },
        },
    },
}
NOT_FOUND = not_found_response("experiment")


def _best_run(search: SearchSpec, runs: list[Run]) -> BestRunRead | None:
    """The succeeded run with the best objective, with the values of the searched fields."""
    scored = [r for r in runs if r.status == RunStatus.SUCCEEDED and r.objective_value is not None]
    if not scored:
        return None
    pick = max if search.objective.mode == "max" else min
    best = pick(scored, key=lambda r: r.objective_value or 0.0)
    flat = flatten_spec(best.spec)
    return BestRunRead(
        run_id=best.id,
        objective=best.objective_value,
        values={path: flat.get(path) for path in search.space},
    )


def _key_ids(session: Session, experiments: Sequence[Experiment]) -> dict[int | None, str]:
    """The public ids of the keys that created or cancelled these experiments: one query."""
    row_ids = [i for e in experiments for i in (e.created_by_key_id, e.cancelled_by_key_id)]
    return public_key_ids(session=session, row_ids=row_ids)


def _read(experiment: Experiment, keys: Mapping[int | None, str]) -> ExperimentRead:
    counts = Counter(RunStatus(run.status) for run in experiment.runs)
    search = SearchSpec.model_validate(experiment.search) if experiment.search else None
    seeds = len(search.seed_list(experiment.spec["seed"])) if search else 1
    planned = experiment.configurations_planned * seeds if search else 1
    return ExperimentRead(
        id=experiment.id,
        name=experiment.name,
        spec=experiment.spec,
        search=experiment.search,
        created_at=experiment.created_at,
        cancelled_at=experiment.cancelled_at,
        created_by_key=keys.get(experiment.created_by_key_id),
        cancelled_by_key=keys.get(experiment.cancelled_by_key_id),
        runs=[RunStatusRead.model_validate(run) for run in experiment.runs],
        progress={s: counts.get(s, 0) for s in RunStatus},
        runs_planned=planned,
        best_run=_best_run(search, experiment.runs) if search else None,
    )


def _read_one(session: Session, project_id: int, experiment_id: int) -> ExperimentRead:
    """The project's experiment as read; 404 if there is none."""
    experiment = experiment_or_404(session, project_id, experiment_id)
    return _read(experiment, _key_ids(session, [experiment]))


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExperimentRead,
    responses={
        **conflict_response("Idempotency-Key already used with a different body."),
        **unprocessable_response(
            "A field, or a bound that depends on the dataset, is violated; or the body is not "
            "JSON (NaN, Infinity, invalid UTF-8), or holds text no store can keep."
        ),
    },
)
def create_experiment(
    body: Annotated[ExperimentCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    sessions: SessionmakerDep,
    background: BackgroundTasks,
    catalog: CatalogDep,
    dispatcher: DispatcherDep,
    key: KeyDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ExperimentRead:
    """Accept a spec (and a search) and queue its runs; training happens in the background."""
    submission = Submission(
        name=body.name,
        spec=body.spec,
        search=body.search,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint(body) if idempotency_key else None,
        created_by=key.id,
    )
    submitted = submit_experiment(
        sessions,
        project_id=key.project_id,
        submission=submission,
        catalog=catalog,
        dispatcher=dispatcher,
    )
    if submitted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    elif submitted.more_to_start:  # after the response: the rest of max_parallel
        background.add_task(
            TOP_UPS.submit, send_top_up, sessions, submitted.experiment_id, dispatcher
        )
    response.headers["Location"] = f"/experiments/{submitted.experiment_id}"
    with sessions() as session:
        return _read_one(session, key.project_id, submitted.experiment_id)


@router.get("", response_model=Page[ExperimentRead])
def list_experiments(
    session: SessionDep, project_id: ProjectDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ExperimentRead]:
    """List experiments, newest first."""
    page = store.list_experiments(
        session=session, project_id=project_id, limit=limit, cursor=cursor
    )
    keys = _key_ids(session, page.items)
    return Page[ExperimentRead](
        items=[_read(e, keys) for e in page.items], total=page.total, next_cursor=page.next_cursor
    )


@router.get("/{experiment_id}", response_model=ExperimentRead, responses=NOT_FOUND)
def get_experiment(
    experiment_id: ExperimentId, session: SessionDep, project_id: ProjectDep
) -> ExperimentRead:
    """Read one experiment with the status of each of its runs."""
    return _read_one(session, project_id, experiment_id)


@router.post("/{experiment_id}/cancel", response_model=ExperimentRead, responses=NOT_FOUND)
def cancel_experiment(
    experiment_id: ExperimentId,
    session: SessionDep,
    sessions: SessionmakerDep,
    dispatcher: DispatcherDep,
    key: KeyDep,
) -> ExperimentRead:
    """Cancel every queued and running run of an experiment; a search starts no more."""
    services.cancel_experiment(
        sessions,
        project_id=key.project_id,
        experiment_id=experiment_id,
        dispatcher=dispatcher,
        cancelled_by=key.id,
    )
    return _read_one(session, key.project_id, experiment_id)
