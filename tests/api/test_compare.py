"""GET /compare: aligned curves, differing fields, deviation, errors."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from models import store
from tests.factories import spec_dict


def run_with_losses(
    client: TestClient, sessions: sessionmaker[Any], backend: str, losses: list[float]
) -> int:
    body = {"name": "cmp", "spec": spec_dict(backend=backend)}
    run_id = int(client.post("/experiments", json=body).json()["runs"][0]["id"])
    with sessions.begin() as session:
        epochs = {e: {"train_loss": v} for e, v in enumerate(losses, start=1)}
        store.record_epochs(session=session, run_id=run_id, epochs=epochs)
    return run_id


def test_compare_reports_backend_difference_and_deviation(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    a = run_with_losses(client, sessions, "torch", [1.0, 0.5])
    b = run_with_losses(client, sessions, "tensorflow", [1.0, 0.5005])
    body = client.get("/compare", params={"run_ids": f"{a},{b}", "keys": "train_loss"}).json()
    assert body["run_ids"] == [a, b]
    assert body["differing_spec"] == {"backend": {str(a): "torch", str(b): "tensorflow"}}
    assert abs(body["max_relative_deviation"]["train_loss"] - 1e-3) < 1e-9
    assert [c["series"]["train_loss"] for c in body["curves"]] == [[1.0, 0.5], [1.0, 0.5005]]


def test_compare_errors(client: TestClient, sessions: sessionmaker[Any]) -> None:
    a = run_with_losses(client, sessions, "torch", [1.0])
    assert client.get("/compare", params={"run_ids": f"{a}"}).status_code == 422
    assert client.get("/compare", params={"run_ids": f"{a},x"}).status_code == 422
    assert client.get("/compare", params={"run_ids": f"{a},999999"}).status_code == 404
    bad_key = client.get("/compare", params={"run_ids": f"{a},{a + 1}", "keys": "loss"})
    assert bad_key.status_code == 422
