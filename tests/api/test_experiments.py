"""POST/GET experiments and runs over the API, on both databases."""

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.store.tables import Experiment, Metric, Run
from tests.factories import IN_ONE_CONNECTION, spec_dict
from workers.execution import execute_run


def submit(client: TestClient, **sections: Any) -> Any:
    return client.post("/experiments", json={"name": "api-test", "spec": spec_dict(**sections)})


def test_post_returns_202_with_location_and_a_queued_run(client: TestClient) -> None:
    response = submit(client)
    assert response.status_code == 202
    body = response.json()
    assert response.headers["location"] == f"/experiments/{body['id']}"
    assert [r["status"] for r in body["runs"]] == ["queued"]
    assert body["progress"]["queued"] == 1
    assert body["spec"]["regularization"]["bn_eps"] == 1e-5  # defaults are resolved
    run = client.get(f"/runs/{body['runs'][0]['id']}").json()
    assert (run["status"], run["epochs_done"], run["summary"], run["error"]) == (
        "queued",
        0,
        None,
        None,
    )
    assert client.get(response.headers["location"]).json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("sections", "loc"),
    [
        ({"regularization": {"dropout": 1.0}}, ["body", "spec", "regularization", "dropout"]),
        ({"regularization": {"l2": -0.1}}, ["body", "spec", "regularization", "l2"]),
        ({"dataset": {"name": "nope"}}, ["body", "spec", "dataset", "name"]),
        ({"unknown_field": 1}, ["body", "spec", "unknown_field"]),
        ({"training": {"epochs": 5000}}, ["body", "spec", "training", "epochs"]),
        ({"model": {"hidden": [4096, 4096]}}, ["body", "spec"]),
    ],
)
def test_bad_specs_get_422_and_write_nothing(
    client: TestClient, session: Session, sections: dict[str, Any], loc: list[str]
) -> None:
    before = [session.scalar(select(func.count()).select_from(t)) for t in (Experiment, Run)]
    response = submit(client, **sections)
    assert response.status_code == 422
    details = response.json()["detail"]
    assert any(d["loc"][: len(loc)] == loc for d in details), details
    after = [session.scalar(select(func.count()).select_from(t)) for t in (Experiment, Run)]
    assert after == before


def test_422_states_the_bound(client: TestClient) -> None:
    detail = submit(client, training={"epochs": 5000}).json()["detail"][0]
    assert detail["msg"] == "Input should be less than or equal to 1000"
    assert "parameters exceed the bound" in submit(client, model={"hidden": [4096, 4096]}).text


def test_lists_paginate_with_total(client: TestClient) -> None:
    ids = [submit(client).json()["id"] for _ in range(5)]
    first = client.get("/experiments", params={"limit": 2}).json()
    assert first["total"] == 5 and len(first["items"]) == 2
    seen, cursor = [e["id"] for e in first["items"]], first["next_cursor"]
    while cursor is not None:
        page = client.get("/experiments", params={"limit": 2, "cursor": cursor}).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids[::-1]
    runs = client.get("/runs", params={"experiment_id": ids[0]}).json()
    assert runs["total"] == 1 and runs["items"][0]["experiment_id"] == ids[0]
    assert client.get("/experiments", params={"limit": 501}).status_code == 422


def test_metrics_shape_keys_downsampling_and_nan(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    run_id = submit(client).json()["runs"][0]["id"]
    with sessions.begin() as session:
        for epoch in range(1, 101):
            loss = math.nan if epoch == 100 else 1.0 / epoch
            values = {"train_loss": loss, "val_acc": epoch / 100}
            store.record_epochs(session=session, run_id=run_id, epochs={epoch: values})
    full = client.get(f"/runs/{run_id}/metrics").json()
    assert full["run_id"] == run_id and full["epochs"] == list(range(1, 101))
    assert full["series"]["train_loss"][-1] is None  # NaN in the store, null in JSON
    thin = client.get(
        f"/runs/{run_id}/metrics", params={"keys": "val_acc", "max_points": 10}
    ).json()
    assert list(thin["series"]) == ["val_acc"] and 5 <= len(thin["epochs"]) <= 10
    assert thin["epochs"][0] == 1 and thin["epochs"][-1] == 100
    with sessions() as session:
        stored = session.scalar(select(func.count()).where(Metric.run_id == run_id))
    assert stored == 200


def test_unknown_metric_keys_are_422(client: TestClient) -> None:
    run_id = submit(client).json()["runs"][0]["id"]
    response = client.get(f"/runs/{run_id}/metrics", params={"keys": "val_acc,val_accuracy"})
    assert response.status_code == 422
    assert "val_accuracy" in response.json()["detail"][0]["msg"]


def test_unknown_ids_are_404(client: TestClient) -> None:
    assert client.get("/runs/0").status_code == 422  # ids start at 1
    assert client.get("/runs/987654").status_code == 404
    assert client.get("/runs/987654/metrics").status_code == 404
    (error,) = client.get("/experiments/987654").json()["detail"]
    assert error["msg"] == "experiment 987654 not found"


def test_idempotency_key_replays_the_first_experiment(client: TestClient, session: Session) -> None:
    body = {"name": "once", "spec": spec_dict()}
    headers = {"Idempotency-Key": "retry-me"}
    first = client.post("/experiments", json=body, headers=headers)
    again = client.post("/experiments", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"] and again.json()["runs"] == first.json()["runs"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # Defaults filled and key order are not part of the identity of a request.
    reordered = {"spec": {**spec_dict(), "seed": 0}, "name": "once"}
    assert (
        client.post("/experiments", json=reordered, headers=headers).json()["id"]
        == first.json()["id"]
    )
    other = client.post("/experiments", json={**body, "name": "twice"}, headers=headers)
    assert other.status_code == 409 and "different body" in other.text
    fresh = client.post("/experiments", json=body, headers={"Idempotency-Key": "another"})
    assert fresh.json()["id"] != first.json()["id"]
    names = session.scalars(select(Experiment.name).where(Experiment.idempotency_key.is_not(None)))
    assert sorted(names) == ["once", "once"]


def test_a_runs_environment_is_null_until_a_worker_starts_it(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    run_id = submit(client).json()["runs"][0]["id"]
    assert client.get(f"/runs/{run_id}").json()["environment"] is None
    execute_run(run_id, sessions=sessions, threads=1, worker="test", policy=IN_ONE_CONNECTION)
    read = client.get(f"/runs/{run_id}").json()
    with sessions() as session:
        stored = session.get(Run, run_id)
        assert stored is not None and stored.environment is not None
    assert read["environment"] == stored.environment
    assert (read["environment"]["framework"], read["environment"]["threads"]) == ("torch", 1)
    listed = client.get("/runs", params={"experiment_id": read["experiment_id"]}).json()
    assert [r["environment"] for r in listed["items"]] == [stored.environment]
