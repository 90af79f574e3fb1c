"""Run queries: lookup, listing, the conditional claim and the terminal write."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    case,
    func,
    literal_column,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, lazyload, with_expression

from models.spec.catalog import BUILTIN_DATASETS
from models.store.datasets import DatasetRef, find_dataset
from models.store.metrics import drop_epochs_after
from models.store.pages import Page, SortKey, paginate
from models.store.run_filter import Node, Order
from models.store.run_query import RunFields
from models.store.tables import Experiment, Run, RunStatus, RunSummary, utcnow
from models.store.upsert import upsert

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class RunError:
    """Why a run failed: a machine-readable type, a message and the epoch it happened in."""

    type: str
    message: str
    epoch: int | None = None


def get_run(*, session: Session, project_id: int, run_id: int) -> Run | None:
    """The project's run with this id, or None."""
    return session.scalar(select(Run).where(Run.id == run_id, Run.project_id == project_id))


def has_run(*, session: Session, project_id: int, run_id: int) -> bool:
    """Whether the project has a run with this id; cheaper than loading it."""
    query = select(Run.id).where(Run.id == run_id, Run.project_id == project_id)
    return session.scalar(query) is not None


@dataclass(frozen=True)
class RunAssignment:
    """What a worker needs of the run it claimed (and of its experiment, for a search)."""

    attempts: int
    spec: dict[str, Any]
    experiment_id: int
    trial_id: int | None
    search: dict[str, Any] | None
    study_name: str | None
    # The uploaded dataset version the spec names; None for built-in data, or if it is gone.
    dataset: DatasetRef | None


def run_assignment(*, session: Session, run_id: int) -> RunAssignment | None:
    """The claimed run's spec, attempt, search and uploaded dataset (no runs or summaries)."""
    row = session.execute(
        select(
            Run.attempts,
            Run.spec,
            Run.experiment_id,
            Run.trial_id,
            Experiment.search,
            Experiment.study_name,
            Run.project_id,
            Run.dataset_version,
        )
        .join(Experiment, Run.experiment_id == Experiment.id)
        .where(Run.id == run_id)
    ).one_or_none()
    if row is None:
        return None
    dataset = row.spec["dataset"]
    stored = None
    if dataset["name"] not in BUILTIN_DATASETS:
        stored = find_dataset(
            session=session,
            project_id=row.project_id,
            name=dataset["name"],
            # An unpinned spec (a search over names) keeps the version its first attempt took.
            version=dataset.get("version") or row.dataset_version,
        )
    return RunAssignment(
        row.attempts,
        row.spec,
        row.experiment_id,
        row.trial_id,
        row.search,
        row.study_name,
        DatasetRef.of(stored) if stored else None,
    )


def ended_runs(*, session: Session, run_ids: Collection[int]) -> set[int]:
    """Those of `run_ids` that are terminal, or gone."""
    live = session.scalars(select(Run.id).where(Run.id.in_(run_ids), Run.status.in_(LIVE)))
    return set(run_ids) - set(live)


def cancel_runs(
    *,
    session: Session,
    project_id: int,
    where: ColumnElement[bool],
    cancelled_by: int | None = None,
) -> list[int]:
    """Cancel the project's queued or running runs matching `where`; returns their ids.

    A queued run is then never claimed; a running one's worker notices and stops.
    `cancelled_by` is the row id of the API key that asked, recorded on each run.
    """
    result = session.execute(
        update(Run)
        .where(Run.project_id == project_id, Run.status.in_(LIVE), where)
        .values(status=RunStatus.CANCELLED, finished_at=utcnow(), cancelled_by_key_id=cancelled_by)
        .returning(Run.id)
    )
    return list(result.scalars())


def list_runs(
    *,
    session: Session,
    project_id: int,
    limit: int,
    cursor: str | None,
    experiment_id: int | None = None,
    where: Node | None = None,
    order: Order | None = None,
) -> Page[Run]:
    """The project's runs matching a parsed filter, newest first unless `order` says otherwise."""
    fields = RunFields(session.get_bind().dialect.name)
    query = select(Run).where(Run.project_id == project_id)
    if experiment_id is not None:
        query = query.where(Run.experiment_id == experiment_id)
    if where is not None:
        query = query.where(fields.condition(where))
    sort = None
    if order is not None:
        kind = "integer" if order.field.integer else order.field.kind
        sort = SortKey(fields.expression(order.field), order.descending, kind)
    query = fields.joined(query)
    options = (
        lazyload(Run.summary_rows),
        with_expression(Run.summary_object, _summary_object(fields.dialect)),
    )
    return paginate(
        query,
        session=session,
        id_column=Run.id,
        limit=limit,
        cursor=cursor,
        sort=sort,
        options=options,
    )


def _summary_object(dialect: str) -> ColumnElement[Any]:
    """A run's summary as one JSON object ({} without one), read in the page's own query
    rather than as an object per value."""
    if dialect == "postgresql":
        values = func.json_object_agg(RunSummary.name, RunSummary.value)
    else:
        # SQLite's JSON writes doubles to 15 digits: 17 as text read back exactly.
        exact = case(
            (func.typeof(RunSummary.value) == "real", func.printf("%!.17g", RunSummary.value)),
            else_=RunSummary.value,
        )
        values = func.json_group_object(RunSummary.name, exact)
    found = select(func.coalesce(values, literal_column("'{}'"))).where(RunSummary.run_id == Run.id)
    return type_coerce(found.scalar_subquery(), JSON)


def claim_run(*, session: Session, run_id: int, worker: str, lease_seconds: float) -> bool:
    """Move a queued run to running for `worker`, with a lease; False if it was not queued.

    A duplicate delivery, or one racing another worker, finds the run no longer queued.
    """
    now = utcnow()
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.QUEUED)
        .values(
            status=RunStatus.RUNNING,
            worker=worker,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=Run.attempts + 1,
            resumed_from_epoch=None,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_started(
    *,
    session: Session,
    run_id: int,
    worker: str,
    epoch: int,
    environment: Mapping[str, Any],
    dataset: DatasetRef | None = None,
) -> None:
    """Record that `worker`'s attempt at a running run starts after `epoch` (0: from scratch).

    `environment` is what this attempt trains in, `dataset` the upload it trains on. Curves
    past `epoch` belonged to a lost attempt and are dropped: the new attempt writes them
    again, so the stored curve is always one attempt's.
    """
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.worker == worker)
        .values(
            resumed_from_epoch=epoch or None,
            epochs_done=epoch,
            environment=dict(environment),
            dataset_version=dataset.version if dataset else None,
            dataset_sha256=dataset.sha256 if dataset else None,
        )
    )
    if result.rowcount:  # type: ignore[attr-defined]
        drop_epochs_after(session=session, run_id=run_id, epoch=epoch)


def finish_run(
    *,
    session: Session,
    run_id: int,
    worker: str,
    status: RunStatus,
    summary: Mapping[str, float] | None = None,
    error: RunError | None = None,
    objective_value: float | None = None,
) -> bool:
    """Write the terminal status, summary, error and objective of `worker`'s running run.

    Returns False, writing nothing, if the run is no longer running (cancelled) or no longer
    `worker`'s (its lease lapsed and the run went to another worker).
    """
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.worker == worker)
        .values(
            status=status,
            finished_at=utcnow(),
            error_type=error.type if error else None,
            error_message=error.message if error else None,
            error_epoch=error.epoch if error else None,
            objective_value=objective_value,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    if summary:
        rows = [{"run_id": run_id, "name": k, "value": v} for k, v in summary.items()]
        upsert(session=session, table=RunSummary, rows=rows, keys=("run_id", "name"))
    return True
