"""Workers die (kill -9 of the process training a run): every run still ends terminal.

The compose services' commands run against local Postgres and Redis, with short leases so
that the reconciler (in the API process) notices a dead worker within seconds.
"""

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import migrate, unavailable
from tests.integration.compose import migrated_stack, service
from tests.integration.servers import PrivatePostgres, PrivateRedis
from tests.integration.stack import (
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


def curves(base_url: str, run_id: int) -> dict[str, Any]:
    params = {"keys": ",".join(KEYS)}
    return dict(httpx.get(f"{base_url}/runs/{run_id}/metrics", params=params).json())


@contextmanager
def stack(redis_url: str, tmp_path: Path, **extra: str) -> Iterator[str]:
    """The api and worker services, running with fast recovery settings; yields the API URL."""
    with migrated_stack(redis_url, tmp_path) as local, ExitStack() as exits:
        env = {**local, **FAST_RECOVERY, **extra}
        for name in ("api", "worker"):
            command, process_env = service(name, env)
            exits.enter_context(running(command, process_env, tmp_path / f"{name}.log"))
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        wait_healthy(base_url)
        yield base_url


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_killed_worker_run_resumes_to_the_same_curves(
    backend: str, redis_url: str, tmp_path: Path
) -> None:
    spec = {**SPEC, "backend": backend}
    with stack(redis_url, tmp_path, REGLAB_CHECKPOINT_MIN_SECONDS="0") as base_url:
        run_id = submit(base_url, {"name": "killed", "spec": spec})

        def past_epoch_six() -> dict[str, Any] | None:
            run: dict[str, Any] = httpx.get(f"{base_url}/runs/{run_id}").json()
            return run if run["epochs_done"] >= 6 else None

        # Epoch 6 is stored only after the checkpoint of epoch 5 is on disk.
        kill_worker_of(poll(past_epoch_six, timeout=120, interval=0.05))
        run = wait_terminal(base_url, run_id, timeout=180)
        assert (run["status"], run["attempts"], run["epochs_done"]) == ("succeeded", 2, 30)
        assert run["resumed_from_epoch"] >= 5, run
        again = curves(base_url, run_id)
        assert again["epochs"] == list(range(1, 31))  # every epoch exactly once
        reference_id = submit(base_url, {"name": "uninterrupted", "spec": spec})
        reference = wait_terminal(base_url, reference_id, timeout=180)
        assert (reference["status"], reference["resumed_from_epoch"]) == ("succeeded", None)
        expected = curves(base_url, reference_id)
        for key in KEYS:
            assert again["series"][key] == pytest.approx(expected["series"][key], abs=1e-6)
        assert not (tmp_path / "checkpoints" / f"run-{run_id}").exists()  # removed at the end


def test_run_whose_worker_always_dies_fails_as_worker_lost(redis_url: str, tmp_path: Path) -> None:
    with stack(redis_url, tmp_path, REGLAB_MAX_ATTEMPTS="2") as base_url:
        run_id = submit(base_url, {"name": "doomed", "spec": SPEC})
        killed: set[int] = set()

        def dead_for_good() -> dict[str, Any] | None:
            run: dict[str, Any] = httpx.get(f"{base_url}/runs/{run_id}").json()
            if run["status"] == "running" and run["worker"]:
                pid = int(run["worker"].rsplit(":", 1)[1])
                if pid not in killed:
                    killed.add(kill_worker_of(run))
            return run if run["status"] == "failed" else None

        run = poll(dead_for_good, timeout=180, interval=0.05)
        assert run["error"]["type"] == "worker_lost" and run["attempts"] == 2, run
        assert len(killed) == 2
        assert redis.Redis.from_url(redis_url).llen("reglab.torch") == 0


def tiny(name: str) -> dict[str, Any]:
    spec = {**SPEC, "dataset": {"name": "moons"}, "training": {"epochs": 3}}
    return {"name": name, "spec": spec}


@contextmanager
def private_stack(tmp_path: Path) -> Iterator[tuple[PrivateRedis, dict[str, str], str]]:
    """A private Redis, a migrated Postgres, and the env the services need to use them."""
    server = PrivateRedis(free_port(), tmp_path / "redis.log")
    with server, migrated_stack(server.url, tmp_path) as local:
        env = {**local, **FAST_RECOVERY, "REGLAB_REQUEUE_AFTER_SECONDS": "2"}
        yield server, env, f"http://127.0.0.1:{local['REGLAB_PORT']}"


def test_runs_queued_in_a_redis_that_died_are_sent_again(tmp_path: Path) -> None:
    with (
        private_stack(tmp_path) as (server, env, base_url),
        running(*service("api", env), tmp_path / "api.log"),
    ):
        wait_healthy(base_url)
        ids = [submit(base_url, tiny(f"r{i}")) for i in range(20)]
        assert redis.Redis(port=server.port).llen("reglab.torch") == 20
        server.kill()  # its 20 messages die with it
        server.start()
        with running(*service("worker", env), tmp_path / "worker.log"):
            for run_id in ids:
                run = wait_terminal(base_url, run_id, timeout=180)
                assert run["status"] == "succeeded", run
                assert curves(base_url, run_id)["epochs"] == [1, 2, 3]  # one set each


def test_worker_consumes_again_after_redis_is_killed_and_restarted(tmp_path: Path) -> None:
    with (
        private_stack(tmp_path) as (server, env, base_url),
        running(*service("api", env), tmp_path / "api.log"),
        running(*service("worker", env), tmp_path / "worker.log"),
    ):
        wait_healthy(base_url)
        first = submit(base_url, tiny("before"))
        assert wait_terminal(base_url, first, timeout=120)["status"] == "succeeded"
        server.kill()
        server.start()
        after = httpx.post(f"{base_url}/experiments", json=tiny("after"), timeout=10)
        assert after.status_code == 202
        run = wait_terminal(base_url, after.json()["runs"][0]["id"], timeout=30)
        assert run["status"] == "succeeded"


@contextmanager
def private_postgres_env(
    redis_url: str, tmp_path: Path
) -> Iterator[tuple[PrivatePostgres, dict[str, str]]]:
    """A migrated private Postgres (one we may stop), and the env the services need."""
    if shutil.which("runuser") is None and os.geteuid() == 0:
        unavailable("runuser (to run a private Postgres as root)")
    with PrivatePostgres(free_port()) as database:
        migrate(database.url)
        yield (
            database,
            {
                **FAST_RECOVERY,
                "REGLAB_DATABASE_URL": database.url,
                "REGLAB_BROKER_URL": redis_url,
                "REGLAB_HOME": str(tmp_path),
                "REGLAB_HOST": "127.0.0.1",
                "REGLAB_PORT": str(free_port()),
            },
        )


def test_run_survives_a_postgres_restart(redis_url: str, tmp_path: Path) -> None:
    with private_postgres_env(redis_url, tmp_path) as (database, env):
        base_url = f"http://127.0.0.1:{env['REGLAB_PORT']}"
        with (
            running(*service("api", env), tmp_path / "api.log"),
            running(*service("worker", env), tmp_path / "worker.log"),
        ):
            wait_healthy(base_url)
            run_id = submit(base_url, {"name": "survivor", "spec": SPEC})
            poll(
                lambda: httpx.get(f"{base_url}/runs/{run_id}").json()["epochs_done"] >= 5 or None,
                timeout=120,
                interval=0.05,
            )
            database.restart()
            run = wait_terminal(base_url, run_id, timeout=180)
            assert (run["status"], run["attempts"], run["epochs_done"]) == ("succeeded", 1, 30), run
            assert curves(base_url, run_id)["epochs"] == list(range(1, 31))


def test_api_answers_503_while_postgres_is_down_and_recovers(
    redis_url: str, tmp_path: Path
) -> None:
    with private_postgres_env(redis_url, tmp_path) as (database, env):
        base_url = f"http://127.0.0.1:{env['REGLAB_PORT']}"
        body, key = tiny("during-outage"), {"Idempotency-Key": "outage-1"}
        with running(*service("api", env), tmp_path / "api.log"):
            wait_healthy(base_url)
            assert httpx.get(f"{base_url}/runs").status_code == 200  # pooled connections
            database.stop()
            for response in (
                httpx.get(f"{base_url}/runs", timeout=30),
                httpx.post(f"{base_url}/experiments", json=body, headers=key, timeout=30),
            ):
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"] == "5"
                assert "Idempotency-Key" in response.json()["detail"]
            database.start()
            first = httpx.post(f"{base_url}/experiments", json=body, headers=key, timeout=30)
            again = httpx.post(f"{base_url}/experiments", json=body, headers=key, timeout=30)
            assert (first.status_code, again.status_code) == (202, 202)
            assert first.json()["id"] == again.json()["id"]
            listed = httpx.get(f"{base_url}/experiments").json()
            assert [e["name"] for e in listed["items"]] == ["during-outage"]
