"""Experiment queries."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, raiseload

from models.store.pages import Page, paginate
from models.store.tables import Experiment, Run, utcnow


@dataclass(frozen=True)
class SearchRecord:
    """What an experiment with a search stores of it: the search, its size, its Optuna study."""

    definition: dict[str, Any]
    configurations: int
    study_name: str | None


def create_experiment(
    *,
    session: Session,
    project_id: int,
    name: str,
    spec: dict[str, Any],
    search: SearchRecord | None = None,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
    created_by: int | None = None,
) -> Experiment:
    """Add an experiment to the session; without a search, with its single run (queued).

    A search's runs are added configuration by configuration (`add_configuration_runs`);
    `created_by` is the API key's row id. The caller commits.
    """
    experiment = Experiment(
        project_id=project_id,
        name=name,
        spec=spec,
        search=search.definition if search else None,
        configurations_planned=search.configurations if search else 0,
        study_name=search.study_name if search else None,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        created_by_key_id=created_by,
    )
    if search is None:
        experiment.runs.append(
            Run(project_id=project_id, backend=spec["backend"], seed=spec["seed"], spec=spec)
        )
    session.add(experiment)
    session.flush()
    return experiment


def get_experiment(*, session: Session, project_id: int, experiment_id: int) -> Experiment | None:
    """The project's experiment with this id, or None."""
    return session.scalar(
        select(Experiment).where(
            Experiment.id == experiment_id, Experiment.project_id == project_id
        )
    )


def load_experiment(*, session: Session, experiment_id: int) -> Experiment | None:
    """The experiment with this id in any project (workers act on ids from runs), without
    its runs: a search's top-up reads it once per configuration it starts."""
    return session.get(Experiment, experiment_id, options=[raiseload(Experiment.runs)])


def find_by_idempotency_key(
    *, session: Session, project_id: int, idempotency_key: str
) -> Experiment | None:
    """The project's experiment created with this Idempotency-Key, or None."""
    return session.scalar(
        select(Experiment).where(
            Experiment.project_id == project_id, Experiment.idempotency_key == idempotency_key
        )
    )


def list_experiments(
    *, session: Session, project_id: int, limit: int, cursor: str | None
) -> Page[Experiment]:
    """The project's experiments, newest first."""
    query = select(Experiment).where(Experiment.project_id == project_id)
    return paginate(query, session=session, id_column=Experiment.id, limit=limit, cursor=cursor)


def is_cancelled(*, session: Session, experiment_id: int) -> bool:
    """Whether the experiment has been cancelled."""
    query = select(Experiment.cancelled_at).where(Experiment.id == experiment_id)
    return session.scalar(query) is not None


def mark_cancelled(
    *, session: Session, project_id: int, experiment_id: int, cancelled_by: int | None = None
) -> None:
    """Stop the project's experiment's search from starting more configurations; the first
    cancel is the one recorded, with the key (`cancelled_by`, a row id) that made it."""
    session.execute(
        update(Experiment)
        .where(
            Experiment.id == experiment_id,
            Experiment.project_id == project_id,
            Experiment.cancelled_at.is_(None),
        )
        .values(cancelled_at=utcnow(), cancelled_by_key_id=cancelled_by)
    )
