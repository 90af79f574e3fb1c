"""Submitting and cancelling experiments: each flow one transaction, runs sent after commit."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.messaging.dispatcher import Dispatcher
from models.search.space import validate_search
from models.search.spec import SearchSpec
from models.search.study import delete_study, new_study_name
from models.services.errors import ConflictError, NotFoundError
from models.services.searches import (
    Proposal,
    add_proposal,
    database_url,
    first_proposals,
    starts_later,
)
from models.spec import ExperimentSpec, SpecError
from models.spec.catalog import Catalog
from models.spec.resolve import resolve
from models.store.tables import Experiment, Run


@dataclass(frozen=True)
class Submission:
    """An experiment as a client asks for it, with its Idempotency-Key, request hash, and the
    row id of the API key that sent it (None from code that acts with no key)."""

    name: str
    spec: ExperimentSpec
    search: SearchSpec | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None
    created_by: int | None = None


@dataclass(frozen=True)
class Submitted:
    """The experiment a submission created, or found (`replayed`) under its key; a search
    may start more configurations than its POST did (`more_to_start`: see `send_top_up`)."""

    experiment_id: int
    replayed: bool
    more_to_start: bool = False


def _earlier(session: Session, project_id: int, submission: Submission) -> int | None:
    """The experiment this key already created; ConflictError if it came with another body."""
    if submission.idempotency_key is None:
        return None
    found = store.find_by_idempotency_key(
        session=session, project_id=project_id, idempotency_key=submission.idempotency_key
    )
    if found is not None and found.request_fingerprint != submission.fingerprint:
        raise ConflictError(
            f"Idempotency-Key {submission.idempotency_key!r} was used for experiment "
            f"{found.id} with a different body"
        )
    return found.id if found else None


def validated(submission: Submission, catalog: Catalog) -> Submission:
    """The submission with its dataset's version pinned (the newest upload, if it names
    none, so that all its runs see one version), once its spec and every configuration of its
    search resolve; SpecError names the field."""
    try:
        # A search over dataset names cannot pin one name's version: its runs find theirs.
        if submission.search is None or "dataset.name" not in submission.search.space:
            dataset = catalog.pinned(submission.spec.dataset)
            spec = submission.spec.model_copy(update={"dataset": dataset})
            submission = replace(submission, spec=spec)
        resolve(submission.spec, catalog)
    except SpecError as exc:
        raise exc.within("spec") from None
    if submission.search is not None:
        validate_search(submission.spec, submission.search, catalog)
    return submission


def _write(
    session: Session,
    project_id: int,
    submission: Submission,
    study: str | None,
    proposals: Sequence[Proposal],
) -> tuple[Experiment, list[Run]]:
    """Add the experiment and its first runs to the session (the caller commits)."""
    search = submission.search
    record = None
    if search is not None:
        record = store.SearchRecord(search.model_dump(), search.n_configurations(), study)
    experiment = store.create_experiment(
        session=session,
        project_id=project_id,
        name=submission.name,
        spec=submission.spec.model_dump(),
        search=record,
        idempotency_key=submission.idempotency_key,
        request_fingerprint=submission.fingerprint,
        created_by=submission.created_by,
    )
    runs = list(experiment.runs)
    for proposal in proposals:
        runs += add_proposal(session=session, experiment=experiment, proposal=proposal)
    return experiment, runs


def submit_experiment(
    sessions: sessionmaker[Any],
    *,
    project_id: int,
    submission: Submission,
    catalog: Catalog,
    dispatcher: Dispatcher,
) -> Submitted:
    """Store the experiment with its first runs, all or nothing, then send the runs.

    A repeated Idempotency-Key returns the earlier experiment (`replayed`); a search's first
    configurations are proposed before the transaction, whose failure removes their study.
    """
    with sessions() as session:
        earlier = _earlier(session, project_id, submission)
    if earlier is not None:
        return Submitted(earlier, replayed=True)
    submission = validated(submission, catalog)
    url, search = database_url(sessions), submission.search
    study = new_study_name() if search else None
    try:
        base = submission.spec.model_dump()
        proposals = first_proposals(url, study, search, base) if search and study else []
        with sessions.begin() as session:
            experiment, runs = _write(session, project_id, submission, study, proposals)
    except IntegrityError:
        if study is not None:
            delete_study(url, study)
        # A concurrent twin with the same key committed first: answer with its experiment.
        with sessions() as session:
            twin = _earlier(session, project_id, submission)
        if twin is None:
            raise  # not a key collision: another constraint broke, a bug to surface
        return Submitted(twin, replayed=True)
    except BaseException:
        if study is not None:
            delete_study(url, study)
        raise
    dispatcher.send(runs)
    return Submitted(experiment.id, False, more_to_start=bool(search and starts_later(search)))


def cancel_experiment(
    sessions: sessionmaker[Any],
    *,
    project_id: int,
    experiment_id: int,
    dispatcher: Dispatcher,
    cancelled_by: int | None = None,
) -> None:
    """Cancel the experiment's queued and running runs, and take their messages out of the
    queues so that no worker waits behind them; its search starts no more. The experiment
    and each run it cancels record `cancelled_by` (an API key's row id)."""
    with sessions.begin() as session:
        found = store.get_experiment(
            session=session, project_id=project_id, experiment_id=experiment_id
        )
        if found is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        store.mark_cancelled(
            session=session,
            project_id=project_id,
            experiment_id=experiment_id,
            cancelled_by=cancelled_by,
        )
        cancelled = store.cancel_runs(
            session=session,
            project_id=project_id,
            where=Run.experiment_id == experiment_id,
            cancelled_by=cancelled_by,
        )
    dispatcher.withdraw(set(cancelled))


def cancel_run(
    sessions: sessionmaker[Any], *, project_id: int, run_id: int, cancelled_by: int | None = None
) -> None:
    """Cancel a queued or running run, recording the key's row id `cancelled_by`;
    ConflictError if it has already finished."""
    with sessions.begin() as session:
        where = Run.id == run_id
        if store.cancel_runs(
            session=session, project_id=project_id, where=where, cancelled_by=cancelled_by
        ):
            return
        # Nothing to cancel: say whether the run is missing or already over.
        run = store.get_run(session=session, project_id=project_id, run_id=run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} not found")
        raise ConflictError(f"run {run_id} has already finished ({run.status})")
