"""GET /compare: aligned curves, differing fields, deviation, errors."""

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.tables import RunSummary
from tests.factories import spec_dict


def run_with_losses(
    client: TestClient,
    sessions: sessionmaker[Any],
    backend: str,
    losses: list[float],
    **sections: Any,
) -> int:
    body = {"name": "cmp", "spec": spec_dict(backend=backend, **sections)}
    run_id = int(client.post("/experiments", json=body).json()["runs"][0]["id"])
    with sessions.begin() as session:
        epochs = {e: {"train_loss": v} for e, v in enumerate(losses, start=1)}
        store.record_epochs(session=session, run_id=run_id, epochs=epochs)
        session.add(RunSummary(run_id=run_id, name="test_acc", value=1 - losses[-1]))
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


# train_loss per epoch of two dropout settings, two seeds each: (dropout, seed) -> losses.
SEED_CURVES = {
    (0.0, 0): [1.0, 0.5],
    (0.0, 1): [1.2, 0.7],
    (0.5, 0): [2.0, 1.0],
    (0.5, 1): [2.0, 1.6],
}


def test_seed_groups_give_mean_and_t_interval(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    curves = SEED_CURVES
    ids = {
        key: run_with_losses(
            client, sessions, "torch", losses, seed=key[1], regularization={"dropout": key[0]}
        )
        for key, losses in curves.items()
    }
    params = {
        "run_ids": ",".join(map(str, ids.values())),
        "keys": "train_loss",
        "group_seeds": True,
    }
    body = client.get("/compare", params=params).json()
    groups = {tuple(g["run_ids"]): g for g in body["groups"]}
    assert set(groups) == {(ids[0.0, 0], ids[0.0, 1]), (ids[0.5, 0], ids[0.5, 1])}
    group = groups[ids[0.5, 0], ids[0.5, 1]]
    band = group["curves"]["train_loss"]
    half = stats.t.ppf(0.975, 1) * 0.3  # sd of (1.0, 1.6) is 0.3 x sqrt(2); over sqrt(n)
    assert band["epochs"] == [1, 2] and band["mean"] == pytest.approx([2.0, 1.3])
    assert band["low"] == pytest.approx([2.0, 1.3 - half]) and band["high"][1] == pytest.approx(
        1.3 + half
    )
    acc = group["summary"]["test_acc"]
    assert (acc["n"], acc["mean"]) == (2, pytest.approx(-0.3)) and acc["low"] < acc["mean"] < acc[
        "high"
    ]
    assert body["summaries"][str(ids[0.0, 0])] == {"test_acc": pytest.approx(0.5)}


def test_downsampled_seed_runs_are_banded_and_compared_at_the_same_epochs(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    # Noisy curves: each run downsampled to its own extremes keeps epochs the others lack.
    noise = np.random.default_rng(0)
    ids = [
        run_with_losses(client, sessions, "torch", list(1 + noise.normal(0, 0.1, 3000)), seed=s)
        for s in (0, 1, 2)
    ]
    params = {"run_ids": ",".join(map(str, ids)), "keys": "train_loss", "group_seeds": True}
    body = client.get("/compare", params={**params, "max_points": 500}).json()
    assert all(len(c["epochs"]) <= 500 for c in body["curves"])
    [band] = [g["curves"]["train_loss"] for g in body["groups"]]
    assert 400 <= len(band["epochs"]) <= 500 and band["epochs"][-1] == 3000
    assert all(low < high for low, high in zip(band["low"], band["high"], strict=True))
    whole = client.get("/compare", params=params).json()
    # The largest deviation over 500 shared epochs: most of the way to that over all 3,000.
    ratio = (
        body["max_relative_deviation"]["train_loss"] / whole["max_relative_deviation"]["train_loss"]
    )
    assert 0.6 < ratio <= 1
