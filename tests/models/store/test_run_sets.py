"""Reads of many runs at once: the project's runs by id, and whole curves in one statement."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from models import store
from models.store.run_sets import get_runs, read_whole_metrics
from models.store.tables import DEFAULT_PROJECT_ID
from tests.factories import create_run


def test_get_runs_keeps_to_the_project(session: Session) -> None:
    mine = [create_run(session).id for _ in range(3)]
    other = create_run(session)
    other.project_id = store.create_project(session=session, name="b").id
    session.flush()
    found = get_runs(session=session, project_id=DEFAULT_PROJECT_ID, run_ids=[*mine, other.id, 999])
    assert sorted(found) == mine and all(found[i].id == i for i in mine)


def test_whole_curves_of_many_runs_match_read_metrics_in_one_statement(session: Session) -> None:
    ids = [create_run(session).id for _ in range(3)]
    store.record_epochs(
        session=session, run_id=ids[0], epochs={1: {"a": 1.0, "b": 2.0}, 2: {"a": 0.5}}
    )
    store.record_epochs(session=session, run_id=ids[1], epochs={3: {"b": 4.0}})
    statements: list[str] = []
    engine = session.get_bind().engine

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        found = read_whole_metrics(session=session, run_ids=ids, keys=["a", "b"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    for run_id in ids:
        assert found[run_id] == store.read_metrics(session=session, run_id=run_id, keys=["a", "b"])
    assert found[ids[0]].series == {"a": [1.0, 0.5], "b": [2.0, None]}
    assert (found[ids[2]].epochs, found[ids[2]].series) == ([], {})
