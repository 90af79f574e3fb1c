"""Fixtures of the store tests."""

from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.tables import DEFAULT_PROJECT_ID, RunStatus, RunSummary
from tests.factories import make_spec


@pytest.fixture
def varied_runs(sessions: sessionmaker[Any]) -> list[int]:
    """12 runs of different specs and statuses, some with a test accuracy: their ids."""
    ids = []
    with sessions.begin() as session:
        for i in range(12):
            spec = make_spec(
                backend=["torch", "tensorflow"][i % 2],
                seed=i % 3,
                regularization={"dropout": [0.0, 0.5][i % 2], "batchnorm": i % 3 == 0},
                optimizer={"lr": [0.1, 0.01, 0.001][i % 3]},
            )
            experiment = store.create_experiment(
                session=session, project_id=DEFAULT_PROJECT_ID, name=f"v{i}", spec=spec.model_dump()
            )
            run = experiment.runs[0]
            if i % 4:
                run.status = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.RUNNING][i % 3]
                session.add(RunSummary(run_id=run.id, name="test_acc", value=0.5 + (i % 5) / 10))
            session.flush()
            ids.append(run.id)
    return ids
