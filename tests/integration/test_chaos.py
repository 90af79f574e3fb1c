"""Workers die (kill -9 of the process training a run): every run still ends terminal.

The compose services' commands run against local Postgres and Redis, with short leases so
that the reconciler (in the API process) notices a dead worker within seconds.
"""

import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from models.blobs import BlobStore
from models.messaging.broker import MARKER_QUEUE
from tests.integration.compose import migrated_stack, service
from tests.integration.servers import PrivateRedis
from tests.integration.stack import (
    api_client,
    free_port,
    poll,
    running,
    submit,
    wait_healthy,
    wait_terminal,
)

pytestmark = pytest.mark.integration
FAST_RECOVERY = {
    "REGLAB_LEASE_SECONDS": "3",
    "REGLAB_HEARTBEAT_SECONDS": "0.5",
    "REGLAB_RECONCILE_SECONDS": "0.5",
}
SPEC = {
    "dataset": {"name": "classification", "n_samples": 20000},
    "model": {"hidden": [64]},
    "regularization": {"dropout": 0.2},
    "training": {"epochs": 30, "batch_size": 64},
}
KEYS = ("train_loss", "val_loss", "val_acc")


def kill_worker_of(run: dict[str, Any]) -> int:
    """kill -9 the process training `run` (its `worker` is host:pid)."""
    pid = int(run["worker"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    return pid


def curves(api: httpx.Client, run_id: int) -> dict[str, Any]:
    params = {"keys": ",".join(KEYS)}
    return dict(api.get(f"/runs/{run_id}/metrics", params=params).json())


@contextmanager
def stack(redis_url: str, tmp_path: Path, **extra: str) -> Iterator[httpx.Client]:
    """The api and worker services, running with fast recovery settings; yields an API client."""
    with migrated_stack(redis_url, tmp_path) as (local, key), ExitStack() as exits:
        env = {**local, **FAST_RECOVERY, **extra}
        for name in ("api", "worker"):
            command, process_env = service(name, env)
            exits.enter_context(running(command, process_env, tmp_path / f"{name}.log"))
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        wait_healthy(base_url)
        yield exits.enter_context(api_client(base_url, key))


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_killed_worker_run_resumes_to_the_same_curves(
    backend: str, redis_url: str, tmp_path: Path
) -> None:
    spec = {**SPEC, "backend": backend}
    with stack(redis_url, tmp_path, REGLAB_CHECKPOINT_MIN_SECONDS="0") as api:
        run_id = submit(api, {"name": "killed", "spec": spec})

        def past_epoch_six() -> dict[str, Any] | None:
            run: dict[str, Any] = api.get(f"/runs/{run_id}").json()
            return run if run["epochs_done"] >= 6 else None

        # Epoch 6 is stored only after the checkpoint of epoch 5 is in the blob store.
        kill_worker_of(poll(past_epoch_six, timeout=120, interval=0.05))
        run = wait_terminal(api, run_id, timeout=180)
        assert (run["status"], run["attempts"], run["epochs_done"]) == ("succeeded", 2, 30)
        assert run["resumed_from_epoch"] >= 5, run
        again = curves(api, run_id)
        assert again["epochs"] == list(range(1, 31))  # every epoch exactly once
        reference_id = submit(api, {"name": "uninterrupted", "spec": spec})
        reference = wait_terminal(api, reference_id, timeout=180)
        assert (reference["status"], reference["resumed_from_epoch"]) == ("succeeded", None)
        expected = curves(api, reference_id)
        for key in KEYS:
            assert again["series"][key] == pytest.approx(expected["series"][key], abs=1e-6)
        # Removed at the end (from the default store, the folder $REGLAB_HOME/blobs):
        assert BlobStore(str(tmp_path / "blobs")).list_named(f"checkpoints/run-{run_id}") == []


def test_run_whose_worker_always_dies_fails_as_worker_lost(redis_url: str, tmp_path: Path) -> None:
    with stack(redis_url, tmp_path, REGLAB_MAX_ATTEMPTS="2") as api:
        run_id = submit(api, {"name": "doomed", "spec": SPEC})
        killed: set[int] = set()

        def dead_for_good() -> dict[str, Any] | None:
            run: dict[str, Any] = api.get(f"/runs/{run_id}").json()
            if run["status"] == "running" and run["worker"]:
                pid = int(run["worker"].rsplit(":", 1)[1])
                if pid not in killed:
                    killed.add(kill_worker_of(run))
            return run if run["status"] == "failed" else None

        run = poll(dead_for_good, timeout=180, interval=0.05)
        assert run["error"]["type"] == "worker_lost" and run["attempts"] == 2, run
        assert len(killed) == 2
        # A delivery still queued (the reconciler's first pass re-sends every queued run to a
        # broker it has not marked yet) is taken and skipped: the queue drains.
        broker = redis.Redis.from_url(redis_url)
        poll(lambda: broker.llen("reglab.torch") == 0 or None, timeout=60)
        assert api.get(f"/runs/{run_id}").json()["status"] == "failed"


def reconciler(api: httpx.Client) -> dict[str, Any]:
    """The API reconciler's counters, from /health."""
    return dict(api.get("/health", timeout=30).json()["reconciler"])


def wait_reconciled(api: httpx.Client, passes: int = 1) -> None:
    """Wait until the API's reconciler has completed `passes` passes."""
    poll(lambda: reconciler(api)["passes"] >= passes or None, timeout=60)


def tiny(name: str) -> dict[str, Any]:
    spec = {**SPEC, "dataset": {"name": "moons"}, "training": {"epochs": 3}}
    return {"name": name, "spec": spec}


@contextmanager
def private_stack(tmp_path: Path) -> Iterator[tuple[PrivateRedis, dict[str, str], httpx.Client]]:
    """A private Redis, a migrated Postgres, the services' env, and a client of their API."""
    server = PrivateRedis(free_port(), tmp_path / "redis.log")
    with server, migrated_stack(server.url, tmp_path) as (local, key):
        # No timed re-sends: what comes back must come back because it was seen missing.
        env = {**local, **FAST_RECOVERY, "REGLAB_REQUEUE_AFTER_SECONDS": "3600"}
        with api_client(f"http://127.0.0.1:{local['REGLAB_PORT']}", key) as api:
            yield server, env, api


def test_runs_queued_in_a_redis_that_died_are_sent_again(tmp_path: Path) -> None:
    with (
        private_stack(tmp_path) as (server, env, api),
        running(*service("api", env), tmp_path / "api.log"),
    ):
        wait_healthy(api.base_url)
        wait_reconciled(api)  # the broker holds the reconciler's marker now
        ids = [submit(api, tiny(f"r{i}")) for i in range(20)]
        assert redis.Redis(port=server.port).llen("reglab.torch") == 20
        server.kill()  # its 20 messages die with it
        server.start()
        with running(*service("worker", env), tmp_path / "worker.log"):
            for run_id in ids:
                run = wait_terminal(api, run_id, timeout=180)
                assert run["status"] == "succeeded", run
                assert curves(api, run_id)["epochs"] == [1, 2, 3]  # one set each
        assert reconciler(api)["runs_sent"] == 20


def test_reconciler_sends_no_duplicates_of_a_waiting_backlog(tmp_path: Path) -> None:
    with (
        private_stack(tmp_path) as (server, env, api),
        running(*service("api", env), tmp_path / "api.log"),
    ):
        wait_healthy(api.base_url)
        wait_reconciled(api)
        for i in range(5):
            submit(api, tiny(f"waiting{i}"))
        wait_reconciled(api, passes=reconciler(api)["passes"] + 5)
        broker = redis.Redis(port=server.port)
        assert (broker.llen("reglab.torch"), broker.llen(MARKER_QUEUE)) == (5, 1)
        assert reconciler(api)["runs_sent"] == 0


def test_runs_the_api_could_not_send_are_sent_once_redis_is_back(tmp_path: Path) -> None:
    with (
        private_stack(tmp_path) as (server, env, api),
        running(*service("api", env), tmp_path / "api.log"),
    ):
        wait_healthy(api.base_url)
        wait_reconciled(api)
        server.stop()  # saved: the marker and the queues come back with it
        ids = [submit(api, tiny(f"unsent{i}")) for i in range(3)]  # 202: stored, not sent
        server.start()
        broker = redis.Redis(port=server.port)
        poll(lambda: broker.llen("reglab.torch") == 3 or None, timeout=60)
        assert broker.llen(MARKER_QUEUE) == 1  # sent as unsent runs, not as a lost broker's
        with running(*service("worker", env), tmp_path / "worker.log"):
            for run_id in ids:
                assert wait_terminal(api, run_id, timeout=120)["status"] == "succeeded"


def test_worker_consumes_again_after_redis_is_killed_and_restarted(tmp_path: Path) -> None:
    with (
        private_stack(tmp_path) as (server, env, api),
        running(*service("api", env), tmp_path / "api.log"),
        running(*service("worker", env), tmp_path / "worker.log"),
    ):
        wait_healthy(api.base_url)
        first = submit(api, tiny("before"))
        assert wait_terminal(api, first, timeout=120)["status"] == "succeeded"
        server.kill()
        server.start()
        after = api.post("/experiments", json=tiny("after"), timeout=10)
        assert after.status_code == 202
        run = wait_terminal(api, after.json()["runs"][0]["id"], timeout=30)
        assert run["status"] == "succeeded"
