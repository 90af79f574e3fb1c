"""The reads of the live event streams, on SQLite and Postgres."""

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from models import store
from models.store import RunError
from models.store.events import epoch_values, experiment_state, run_states
from models.store.experiments import SearchRecord
from models.store.tables import DEFAULT_PROJECT_ID, RunStatus
from tests.factories import create_run, spec_dict

OTHER_PROJECT = 999


def epochs(first: int, last: int) -> dict[int, dict[str, float]]:
    """Epochs `first..last`, each with two metrics."""
    return {e: {"train_loss": 1 / e, "val_acc": e / 100} for e in range(first, last + 1)}


def test_run_states_are_the_projects_in_id_order(session: Session) -> None:
    first, second = create_run(session), create_run(session)
    store.claim_run(session=session, run_id=second.id, worker="w", lease_seconds=60)
    store.record_epochs(session=session, run_id=second.id, epochs=epochs(1, 2))
    error = RunError("diverged", "loss is NaN", 2)
    store.finish_run(
        session=session, run_id=second.id, worker="w", status=RunStatus.FAILED, error=error
    )
    found = run_states(
        session=session, project_id=DEFAULT_PROJECT_ID, run_ids=[second.id, first.id]
    )
    assert [(s.run_id, s.status, s.attempts, s.epochs_done, s.error) for s in found] == [
        (first.id, RunStatus.QUEUED, 0, 0, None),
        (second.id, RunStatus.FAILED, 1, 2, error),
    ]
    assert run_states(session=session, project_id=OTHER_PROJECT, run_ids=[first.id]) == []
    by_experiment = run_states(
        session=session, project_id=DEFAULT_PROJECT_ID, experiment_id=second.experiment_id
    )
    assert [s.run_id for s in by_experiment] == [second.id]


def test_epoch_values_read_each_runs_own_range(session: Session) -> None:
    first, second = create_run(session), create_run(session)
    for run in (first, second):
        store.record_epochs(session=session, run_id=run.id, epochs=epochs(1, 10))
    spans = {first.id: (3, 6), second.id: (0, 2), 12345: (0, 5)}
    found = epoch_values(session=session, spans={**spans, first.id + second.id: (4, 4)})
    assert {run_id: sorted(e) for run_id, e in found.items()} == {
        first.id: [4, 5, 6],
        second.id: [1, 2],
    }
    assert found[first.id][5] == {"train_loss": 0.2, "val_acc": 0.05}
    assert epoch_values(session=session, spans={first.id: (10, 10)}) == {}


def test_epoch_values_search_the_primary_key(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("plans of a tiny Postgres table prefer a scan; bench/ checks Postgres")
    runs = [create_run(session) for _ in range(3)]
    for run in runs:
        store.record_epochs(session=session, run_id=run.id, epochs=epochs(1, 300))
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    epoch_values(session=session, spans={run.id: (100, 120) for run in runs})
    event.remove(connection, "before_cursor_execute", capture)
    [(statement, params)] = statements
    plan = " | ".join(
        row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
    )
    assert "SEARCH metric USING" in plan and "SCAN metric" not in plan, plan


def test_experiment_state_says_whether_more_runs_may_come(session: Session) -> None:
    single = create_run(session).experiment_id
    state = experiment_state(session=session, project_id=DEFAULT_PROJECT_ID, experiment_id=single)
    assert state is not None and not state.more_to_start
    record = SearchRecord(definition={"space": {}}, configurations=2, study_name=None)
    search = store.create_experiment(
        session=session, project_id=DEFAULT_PROJECT_ID, name="s", spec=spec_dict(), search=record
    )
    assert store.claim_configuration(session=session, experiment_id=search.id, index=0)

    def state_now() -> tuple[int, bool]:
        found = experiment_state(
            session=session, project_id=DEFAULT_PROJECT_ID, experiment_id=search.id
        )
        assert found is not None
        return found.configurations_started, found.more_to_start

    assert state_now() == (1, True)
    store.claim_configuration(session=session, experiment_id=search.id, index=1)
    assert state_now() == (2, False)
    assert experiment_state(session=session, project_id=OTHER_PROJECT, experiment_id=single) is None


def test_a_cancelled_search_starts_no_more(session: Session) -> None:
    record = SearchRecord(definition={"space": {}}, configurations=5, study_name=None)
    search = store.create_experiment(
        session=session, project_id=DEFAULT_PROJECT_ID, name="s", spec=spec_dict(), search=record
    )
    store.mark_cancelled(session=session, project_id=DEFAULT_PROJECT_ID, experiment_id=search.id)
    state = experiment_state(
        session=session, project_id=DEFAULT_PROJECT_ID, experiment_id=search.id
    )
    assert state is not None and not state.more_to_start
