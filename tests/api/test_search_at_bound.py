"""Searches at their bound: a 2,000-run search is accepted at once, every configuration it
can produce is valid, and cancelling it takes its runs' messages out of the queue."""

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.broker import get_dispatcher
from api.main import app
from models.messaging.broker import Broker
from models.messaging.dispatcher import Dispatcher
from models.messaging.withdraw import run_id_of
from models.services.searches import FIRST_CONFIGURATIONS
from models.settings import Settings
from models.store.tables import Run
from tests.api.conftest import client_on
from tests.factories import spec_dict
from tests.integration.stack import poll

DROPOUTS = [round(i / 100, 2) for i in range(40)]
LRS = [round(0.001 * (i + 1), 3) for i in range(50)]


@pytest.fixture
def broker_folder(tmp_path: Path) -> Iterator[Path]:
    """An embedded broker of the test's own (run ids repeat across the tests' databases)."""
    settings = Settings(home=tmp_path)
    app.dependency_overrides[get_dispatcher] = lambda: Dispatcher(Broker(settings, "test"))
    folder = settings.embedded_broker_folder()
    assert folder is not None
    yield folder
    app.dependency_overrides.pop(get_dispatcher, None)


@pytest.fixture
def search_client(fresh_sessions: sessionmaker[Any], broker_folder: Path) -> Iterator[TestClient]:
    """The app on a fresh database, so search transactions and Optuna commit for real."""
    with client_on(fresh_sessions) as client:
        yield client


def grid_of_2000(max_parallel: int) -> dict[str, Any]:
    space = {"regularization.dropout": DROPOUTS, "optimizer.lr": LRS}
    search = {"method": "grid", "space": space, "max_parallel": max_parallel}
    return {"name": "at-bound", "spec": spec_dict(), "search": search}


def runs_of(sessions: sessionmaker[Any], experiment_id: int) -> list[Run]:
    with sessions() as session:
        query = select(Run).where(Run.experiment_id == experiment_id).order_by(Run.id)
        return list(session.scalars(query))


def queued_messages(folder: Path, experiment_runs: set[int]) -> int:
    """Messages in the embedded broker's folder that carry one of these runs."""
    payloads = [json.loads(p.read_bytes()) for p in folder.glob("*.msg")]
    return sum(run_id_of(p) in experiment_runs for p in payloads)


def test_a_2000_run_search_starts_a_few_configurations_in_its_post_then_the_rest(
    search_client: TestClient, fresh_sessions: sessionmaker[Any], broker_folder: Path
) -> None:
    response = search_client.post("/experiments", json=grid_of_2000(max_parallel=30))
    assert response.status_code == 202, response.text
    assert response.json()["runs_planned"] == 2000
    assert len(response.json()["runs"]) == FIRST_CONFIGURATIONS  # inside the request

    def started() -> bool | None:
        return len(runs_of(fresh_sessions, response.json()["id"])) == 30 or None

    poll(started, timeout=120)  # the rest of max_parallel, after the response
    runs = runs_of(fresh_sessions, response.json()["id"])
    assert [r.configuration for r in runs] == list(range(30))
    grid = list(itertools.product(LRS, DROPOUTS))  # in the sorted order of the paths
    for index, run in enumerate(runs):
        values = (run.spec["optimizer"]["lr"], run.spec["regularization"]["dropout"])
        assert values == grid[index]
    assert len({r.trial_id for r in runs}) == 30
    ids = {r.id for r in runs}
    poll(lambda: queued_messages(broker_folder, ids) == 30 or None, timeout=60)  # all sent
    cancel = search_client.post(f"/experiments/{response.json()['id']}/cancel")
    assert cancel.status_code == 200 and cancel.json()["progress"]["cancelled"] == 30
    poll(lambda: queued_messages(broker_folder, ids) == 0 or None, timeout=60)


def test_random_configurations_follow_the_sampler_seed(
    search_client: TestClient, fresh_sessions: sessionmaker[Any]
) -> None:
    space = {"regularization.dropout": {"uniform": [0.0, 0.5]}, "training.batch_size": [16, 32]}
    search = {"method": "random", "trials": 5, "space": space, "seeds": [0, 1], "max_parallel": 5}
    body = {"name": "random", "spec": spec_dict(), "search": search}
    drawn = []
    for _ in range(2):
        experiment = search_client.post("/experiments", json=body).json()
        runs = runs_of(fresh_sessions, experiment["id"])
        drawn.append([(r.configuration, r.seed, r.spec["regularization"]["dropout"]) for r in runs])
    assert drawn[0] == drawn[1] and len(drawn[0]) == 10
    by_configuration = {c: {d for cc, _, d in drawn[0] if cc == c} for c, _, _ in drawn[0]}
    assert all(len(rates) == 1 for rates in by_configuration.values())  # seeds share values
    assert len({rates.pop() for rates in by_configuration.values()}) == 5


MANY = {"training.batch_size": list(range(16, 116)), "regularization.dropout": DROPOUTS}


@pytest.mark.parametrize(
    ("space", "named"),
    [
        (  # lr x weight_decay reaches 1.8 only at the top corner
            {
                "optimizer.lr": {"log_uniform": [1e-4, 2.0]},
                "regularization.weight_decay": {"uniform": [0.0, 0.9]},
            },
            "optimizer.lr x regularization.weight_decay",
        ),
        (  # wide inputs with the widest net: over the parameter bound only together
            {
                "dataset.n_features": {"int_uniform": [2, 1024]},
                "model.hidden": [[16], [2048, 2048]],
            },
            "parameters exceed the bound",
        ),
        ({"model.kernel_size": {"int_uniform": [3, 7]}}, "kernel_size must be odd"),
    ],
)
def test_every_configuration_a_large_random_search_can_draw_is_validated(
    search_client: TestClient, space: dict[str, Any], named: str
) -> None:
    spec = spec_dict(dataset={"name": "classification", "n_samples": 1000})
    if "model.kernel_size" in space:
        spec = spec_dict(
            dataset={"name": "digits", "n_samples": None},
            model={"kind": "cnn", "channels": [4], "hidden": []},
        )
    search = {"method": "random", "trials": 50, "space": {**space, **MANY}}
    response = search_client.post(
        "/experiments", json={"name": "big", "spec": spec, "search": search}
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "search", "space"] and named in error["msg"]
    assert "pydantic" not in error["msg"] and "Value error" not in error["msg"]
    search["space"] = MANY  # the same search without the bad corner is accepted
    accepted = search_client.post(
        "/experiments", json={"name": "ok", "spec": spec, "search": search}
    )
    assert accepted.status_code == 202, accepted.text


def test_a_space_with_too_many_corners_to_validate_is_refused(search_client: TestClient) -> None:
    fields = ("l1", "l2", "dropout", "label_smoothing")
    space: dict[str, Any] = {f"regularization.{f}": {"uniform": [0.0, 0.1]} for f in fields}
    space["optimizer.lr"] = {"log_uniform": [1e-3, 1e-1]}
    space["regularization.batchnorm"] = [True, False]
    space["model.hidden"] = [[w] for w in range(4, 104)]  # 100 x 2 unordered, x 32 corners
    body = {
        "name": "x",
        "spec": spec_dict(),
        "search": {"method": "random", "trials": 5, "space": space},
    }
    response = search_client.post("/experiments", json=body)
    assert response.status_code == 422
    assert "6,400 corner combinations" in response.json()["detail"][0]["msg"]
