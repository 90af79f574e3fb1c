"""Real Celery workers register in the store: listed while they live, gone once they stop."""

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import migrate
from tests.integration.stack import (
    api_client,
    bootstrap_key,
    free_port,
    poll,
    process_env,
    running,
    submit,
    wait_healthy,
)

pytestmark = pytest.mark.integration
WORKER = ["celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO"]
NEEDS_A_GPU = {"name": "needs-a-gpu", "spec": {"dataset": {"name": "moons"}, "device": "cuda"}}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """An API on the embedded store; yields a client of it and the environment a worker needs."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    database_url = f"sqlite:///{home / 'reglab.sqlite'}"
    migrate(database_url)
    port = free_port()
    env = process_env(
        {
            "REGLAB_HOME": str(home),
            "REGLAB_DATABASE_URL": database_url,
            "REGLAB_PORT": str(port),
            "REGLAB_BACKENDS": "torch",
            "REGLAB_WORKER_HEARTBEAT_SECONDS": "0.5",
        }
    )
    base_url = f"http://127.0.0.1:{port}"
    with (
        running([sys.executable, "-m", "api"], env, tmp_path / "api.log"),
        api_client(base_url, bootstrap_key(env)) as client,
    ):
        wait_healthy(base_url)
        yield client, env


def live_workers(api: httpx.Client) -> list[dict[str, Any]]:
    """GET /workers."""
    response = api.get("/workers", timeout=5)
    assert response.status_code == 200, response.text
    return list(response.json())


def waiting_for(api: httpx.Client, run_id: int) -> Any:
    """A run's `waiting_for`."""
    return api.get(f"/runs/{run_id}", timeout=5).json()["waiting_for"]


def test_a_worker_is_listed_until_sigterm_and_a_cuda_run_says_what_it_waits_for(
    api: tuple[httpx.Client, dict[str, str]], tmp_path: Path
) -> None:
    client, env = api
    run_id = submit(client, NEEDS_A_GPU)
    assert waiting_for(client, run_id) == "a worker with CUDA for torch"
    with running(WORKER, env, tmp_path / "worker.log"):
        [worker] = poll(lambda: live_workers(client) or None, timeout=60, interval=0.2)
        assert (worker["backends"], worker["cuda"], worker["queues"]) == (
            ["torch"],
            False,
            ["reglab.torch"],
        )
        assert b"celery" in Path(f"/proc/{worker['pid']}/cmdline").read_bytes()
        assert client.get("/health", timeout=5).json()["workers"] == 1
        # A CPU worker cannot take it: the run still waits, and says for what.
        assert waiting_for(client, run_id) == "a worker with CUDA for torch"
        os.kill(worker["pid"], signal.SIGTERM)  # the main process alone, as a supervisor would
        poll(lambda: live_workers(client) == [] or None, timeout=30, interval=0.2)
    assert client.get("/health", timeout=5).json()["workers"] == 0


def test_a_killed_worker_lapses_after_three_missed_beats(
    api: tuple[httpx.Client, dict[str, str]], tmp_path: Path
) -> None:
    client, env = api
    with running(WORKER, env, tmp_path / "worker.log"):
        [worker] = poll(lambda: live_workers(client) or None, timeout=60, interval=0.2)
        os.kill(worker["pid"], signal.SIGKILL)  # no shutdown signal: its row stays, and lapses
        poll(lambda: live_workers(client) == [] or None, timeout=30, interval=0.2)
