"""The reconciler isolates failures per object: a broken one never stops the rest of a pass."""

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from models import store
from models.messaging.dispatcher import Dispatcher
from models.services.reconciler import reconcile
from models.store.tables import DEFAULT_PROJECT_ID, Run, RunStatus, utcnow
from tests.factories import QueueRecorder, create_run, make_spec


def lapsed_run(sessions: sessionmaker[Any], routable: bool = True) -> int:
    """A run whose worker claimed it and then died: its lease ran out a minute ago.

    Not `routable`: its stored spec lost the `device` the dispatcher routes by.
    """
    with sessions.begin() as session:
        run = create_run(session)
        store.claim_run(session=session, run_id=run.id, worker="dead:1", lease_seconds=60)
        changes: dict[str, Any] = {"lease_expires_at": utcnow() - timedelta(minutes=1)}
        if not routable:
            changes["spec"] = {k: v for k, v in run.spec.items() if k != "device"}
        session.execute(update(Run).where(Run.id == run.id).values(**changes))
        return run.id


def broken_search(sessions: sessionmaker[Any]) -> int:
    """A search experiment with no runs whose stored search no longer validates."""
    with sessions.begin() as session:
        experiment = store.create_experiment(
            session=session,
            project_id=DEFAULT_PROJECT_ID,
            name="broken",
            spec=make_spec().model_dump(),
            # No dimension: an invalid search.
            search=store.SearchRecord(
                {"method": "grid", "space": {}}, configurations=3, study_name="reglab-broken"
            ),
        )
        return experiment.id


def test_a_broken_search_and_a_broken_run_do_not_stop_the_pass(
    sessions: sessionmaker[Any], caplog: pytest.LogCaptureFixture
) -> None:
    broken = broken_search(sessions)
    good = lapsed_run(sessions)
    unsendable = lapsed_run(sessions, routable=False)
    recorder = QueueRecorder()
    dispatcher = Dispatcher(recorder)
    with caplog.at_level(logging.ERROR):
        sent = reconcile(sessions, dispatcher, max_attempts=3, requeue_after=3600)
    assert sent == 1 and recorder.run_ids == [good]
    assert dispatcher.unsent() == {unsendable}  # kept for the next pass
    assert f"cannot continue the search of experiment {broken}" in caplog.text
    with sessions() as session:
        statuses = {
            run_id: store.get_run(
                session=session, project_id=DEFAULT_PROJECT_ID, run_id=run_id
            ).status  # type: ignore[union-attr]
            for run_id in (good, unsendable)
        }
    assert statuses == {good: RunStatus.QUEUED, unsendable: RunStatus.QUEUED}


def test_a_pass_after_a_broken_one_still_recovers_runs(sessions: sessionmaker[Any]) -> None:
    broken_search(sessions)
    recorder = QueueRecorder()
    dispatcher = Dispatcher(recorder)
    assert reconcile(sessions, dispatcher, max_attempts=3, requeue_after=3600) == 0
    run_id = lapsed_run(sessions)
    assert reconcile(sessions, dispatcher, max_attempts=3, requeue_after=3600) == 1
    assert recorder.run_ids == [run_id]
