"""Cancelling over HTTP: a queued run never starts, a running one stops within seconds."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from models.blobs import BlobStore
from models.services.searches import top_up
from tests.api.conftest import client_on
from tests.factories import spec_dict
from tests.integration.stack import poll
from workers.execution import RunPolicy, execute_run

CHECK_SECONDS = 0.2


@pytest.fixture
def api(fresh_sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    with client_on(fresh_sessions) as client:
        yield client


def submit(client: TestClient, **sections: Any) -> int:
    response = client.post("/experiments", json={"name": "c", "spec": spec_dict(**sections)})
    assert response.status_code == 202, response.text
    return int(response.json()["runs"][0]["id"])


def submit_long(client: TestClient, n_samples: int, width: int, **training: Any) -> int:
    """A run on the `classification` data that trains for a while."""
    return submit(
        client,
        dataset={"name": "classification", "n_samples": n_samples},
        model={"hidden": [width, width]},
        training=training,
    )


def finished(thread: threading.Thread, client: TestClient, run_id: int) -> Any:
    """The run once its training thread has ended (within a deadline)."""
    thread.join(timeout=60)
    assert not thread.is_alive()
    return client.get(f"/runs/{run_id}").json()


def train_in_background(
    sessions: sessionmaker[Any], run_id: int, checkpoints: BlobStore | None = None
) -> threading.Thread:
    """execute_run in a thread, as a worker child would run it."""
    thread = threading.Thread(
        target=execute_run,
        args=(run_id,),
        kwargs={
            "sessions": sessions,
            "threads": 1,
            "worker": "test",
            "policy": RunPolicy(heartbeat_seconds=CHECK_SECONDS, checkpoint_store=checkpoints),
        },
    )
    thread.start()
    return thread


def test_cancelled_queued_run_never_starts(
    api: TestClient, fresh_sessions: sessionmaker[Any]
) -> None:
    run_id = submit(api)
    cancelled = api.post(f"/runs/{run_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert execute_run(run_id, sessions=fresh_sessions, threads=1, worker="w") == "skipped"
    again = api.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 409 and "already finished" in again.text
    assert api.post("/runs/999999/cancel").status_code == 404


def test_running_run_stops_within_an_epoch_and_keeps_its_curves(
    api: TestClient, fresh_sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    run_id = submit_long(api, 20000, 128, epochs=200, batch_size=32)
    blobs = BlobStore(str(tmp_path))
    thread = train_in_background(fresh_sessions, run_id, blobs)
    checkpoints = f"checkpoints/run-{run_id}"
    poll(lambda: api.get(f"/runs/{run_id}").json()["epochs_done"] >= 2 or None, timeout=120)
    poll(lambda: blobs.list_named(checkpoints) or None, timeout=60)
    at_cancel = api.post(f"/runs/{run_id}/cancel").json()["epochs_done"]
    run = finished(thread, api, run_id)
    assert run["status"] == "cancelled" and run["summary"] is None and run["error"] is None
    # Epochs that ended before the cancel was seen are kept; at most the one in flight and
    # one not yet committed follow it.
    assert at_cancel <= run["epochs_done"] <= at_cancel + 2 < 200
    curves = api.get(f"/runs/{run_id}/metrics", params={"keys": "train_loss"}).json()
    assert curves["epochs"] == list(range(1, run["epochs_done"] + 1))
    assert api.post(f"/runs/{run_id}/cancel").status_code == 409
    assert blobs.list_named(checkpoints) == []  # a cancelled run will not resume


def test_a_long_epoch_is_abandoned_part_way(
    api: TestClient, fresh_sessions: sessionmaker[Any]
) -> None:
    run_id = submit_long(api, 200000, 256, epochs=3, batch_size=16)
    thread = train_in_background(fresh_sessions, run_id)
    poll(lambda: api.get(f"/runs/{run_id}").json()["status"] == "running" or None, timeout=60)
    api.post(f"/runs/{run_id}/cancel")
    run = finished(thread, api, run_id)
    assert (run["status"], run["epochs_done"]) == ("cancelled", 0)  # epoch 1 never finished


def test_cancelling_a_search_stops_it(api: TestClient, fresh_sessions: sessionmaker[Any]) -> None:
    body = {
        "name": "grid",
        "spec": spec_dict(),
        "search": {"space": {"regularization.dropout": [0.0, 0.1, 0.2, 0.3]}, "max_parallel": 1},
    }
    experiment = api.post("/experiments", json=body).json()
    (first,) = experiment["runs"]
    cancelled = api.post(f"/experiments/{experiment['id']}/cancel").json()
    assert cancelled["cancelled_at"] is not None
    assert [r["status"] for r in cancelled["runs"]] == ["cancelled"]
    assert execute_run(first["id"], sessions=fresh_sessions, threads=1, worker="w") == "skipped"
    assert top_up(fresh_sessions, experiment["id"]) == []  # no configuration starts after it


def test_time_limit_fails_the_run_as_timeout_with_its_curves(
    api: TestClient, fresh_sessions: sessionmaker[Any]
) -> None:
    run_id = submit_long(api, 20000, 128, epochs=1000, batch_size=32, time_limit_seconds=1.5)
    run = finished(train_in_background(fresh_sessions, run_id), api, run_id)
    assert (run["status"], run["error"]["type"]) == ("failed", "timeout"), run
    assert run["error"]["epoch"] == run["epochs_done"] + 1 and run["epochs_done"] < 1000
    assert "1.5 s" in run["error"]["message"]
