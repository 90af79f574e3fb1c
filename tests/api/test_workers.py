"""GET /workers, the worker count on /health, and what a queued run waits for."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.tables import Run, RunStatus, Worker, utcnow
from tests.factories import create_run, make_spec, worker_record


def register(sessions: sessionmaker[Any], *, cuda: bool, pid: int = 100) -> None:
    """A live torch worker, with or without CUDA."""
    with sessions.begin() as session:
        store.register_worker(
            session=session, worker=worker_record(pid=pid, cuda=cuda), live_seconds=60
        )


def queued_run(sessions: sessionmaker[Any], **sections: Any) -> int:
    """A committed queued run of `make_spec(**sections)`."""
    with sessions.begin() as session:
        return create_run(session, make_spec(**sections)).id


def test_workers_lists_the_live_ones(client: TestClient, sessions: sessionmaker[Any]) -> None:
    assert client.get("/workers").json() == []
    register(sessions, cuda=True, pid=7)
    register(sessions, cuda=False, pid=8)
    with sessions.begin() as session:  # pid 8 stopped beating long ago
        session.execute(update(Worker).where(Worker.pid == 8).values(expires_at=utcnow()))
    [worker] = client.get("/workers").json()
    started_at = worker.pop("started_at")
    assert worker.pop("last_seen_at") >= started_at
    assert worker == {
        "host": "cpu-1",
        "pid": 7,
        "backends": ["torch"],
        "cuda": True,
        "concurrency": 2,
        "queues": ["reglab.torch", "reglab.torch.cuda"],
    }


def test_health_counts_live_workers_and_stays_ok_without_any(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()["workers"]) == (200, 0)
    register(sessions, cuda=False, pid=1)
    register(sessions, cuda=True, pid=2)
    assert client.get("/health").json()["workers"] == 2


@pytest.mark.parametrize(
    ("device", "backend", "cuda_worker", "waiting_for"),
    [
        ("cuda", "torch", False, "a worker with CUDA for torch"),
        ("cuda", "torch", True, None),
        ("auto", "torch", False, None),
        ("auto", "tensorflow", True, "a worker for tensorflow"),
    ],
)
def test_a_queued_run_says_what_it_waits_for(
    client: TestClient,
    sessions: sessionmaker[Any],
    device: str,
    backend: str,
    cuda_worker: bool,
    waiting_for: str | None,
) -> None:
    run_id = queued_run(sessions, device=device, backend=backend)
    register(sessions, cuda=cuda_worker)
    assert client.get(f"/runs/{run_id}").json()["waiting_for"] == waiting_for
    [listed] = client.get("/runs").json()["items"]
    assert (listed["id"], listed["waiting_for"]) == (run_id, waiting_for)


def test_with_no_worker_at_all_a_run_waits_for_one(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    run_id = queued_run(sessions)
    assert client.get(f"/runs/{run_id}").json()["waiting_for"] == "a worker for torch"


def test_only_queued_runs_wait(client: TestClient, sessions: sessionmaker[Any]) -> None:
    run_id = queued_run(sessions, device="cuda")
    with sessions.begin() as session:
        session.execute(update(Run).values(status=RunStatus.RUNNING))
    assert client.get(f"/runs/{run_id}").json()["waiting_for"] is None
    cancelled = client.post(f"/runs/{run_id}/cancel").json()
    assert (cancelled["status"], cancelled["waiting_for"]) == ("cancelled", None)


def test_a_listing_asks_the_store_for_workers_once(
    client: TestClient, sessions: sessionmaker[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        queued_run(sessions, device="cuda")
    calls: list[object] = []
    live_queues = store.live_queues

    def counted(**kwargs: Any) -> set[str]:
        calls.append(kwargs)
        return live_queues(**kwargs)

    monkeypatch.setattr(store, "live_queues", counted)
    items = client.get("/runs").json()["items"]
    assert [r["waiting_for"] for r in items] == ["a worker with CUDA for torch"] * 3
    assert len(calls) == 1
