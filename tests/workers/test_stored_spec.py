"""A stored spec that no longer validates fails its run with one short, readable line."""

from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.store.tables import DEFAULT_PROJECT_ID, RunStatus
from tests.factories import IN_ONE_CONNECTION, create_run
from workers.execution import execute_run


def test_an_invalid_stored_spec_fails_as_invalid_spec_naming_the_rule(
    sessions: sessionmaker[Any],
) -> None:
    with sessions.begin() as session:
        run = create_run(session)
        # Accepted under older bounds, say: each step would multiply kernels by 1 - 1.8.
        run.spec = {
            **run.spec,
            "optimizer": {**run.spec["optimizer"], "lr": 2.0},
            "regularization": {**run.spec["regularization"], "weight_decay": 0.9},
        }
        run_id = run.id
    status = execute_run(
        run_id, sessions=sessions, threads=1, worker="test", policy=IN_ONE_CONNECTION
    )
    with sessions() as session:
        found = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run_id)
    assert found is not None and status == "failed"
    assert (found.status, found.error_type) == (RunStatus.FAILED, "invalid_spec")
    assert found.error_message == (
        "spec: optimizer.lr x regularization.weight_decay = 1.8 must be < 1 "
        "(each step multiplies kernels by 1 - lr x weight_decay)"
    )
