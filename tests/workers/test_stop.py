"""A stopping worker hands its run back: queued again, attempt unspent, resumed later."""

import threading
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Reject
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from models.blobs import BlobStore
from tests.integration.stack import poll
from tests.workers.test_cancellation import (  # noqa: F401 (the `api` fixture)
    api,
    finished,
    submit_long,
    train_in_background,
)
from workers import shutdown
from workers.execution import RunPolicy, execute_run
from workers.tasks import train_run

EPOCHS = 60


def test_a_run_in_flight_is_handed_back_and_resumes(
    api: TestClient,  # noqa: F811
    fresh_sessions: sessionmaker[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopping = threading.Event()
    monkeypatch.setattr(shutdown, "requested", stopping.is_set)
    run_id = submit_long(api, 3000, 32, epochs=EPOCHS, batch_size=32)
    blobs = BlobStore(str(tmp_path))
    thread = train_in_background(fresh_sessions, run_id, blobs)
    checkpoints = f"checkpoints/run-{run_id}"
    poll(lambda: blobs.list_named(checkpoints) or None, timeout=120)
    stopping.set()
    run = finished(thread, api, run_id)
    assert (run["status"], run["attempts"], run["worker"]) == ("queued", 0, None), run
    assert 1 <= run["epochs_done"] < EPOCHS
    assert blobs.list_named(checkpoints), "kept for the next worker"

    stopping.clear()
    policy = RunPolicy(checkpoint_store=blobs, checkpoint_min_seconds=600)
    assert execute_run(run_id, sessions=fresh_sessions, threads=1, worker="w2", policy=policy) == (
        "succeeded"
    )
    run = api.get(f"/runs/{run_id}").json()
    assert run["attempts"] == 1 and run["resumed_from_epoch"] >= 1, run
    curves = api.get(f"/runs/{run_id}/metrics", params={"keys": "train_loss"}).json()
    assert curves["epochs"] == list(range(1, EPOCHS + 1))
    assert blobs.list_named(checkpoints) == []  # the run ended


def test_a_stopping_worker_puts_a_new_delivery_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutdown, "requested", lambda: True)
    with pytest.raises(Reject) as rejected:
        train_run(1)  # before any claim: the run stays queued, its message goes back
    assert rejected.value.requeue is True
