"""A clean stop: `make run` and a bare worker end on SIGTERM or Ctrl-C, and no run is lost.

Real processes: the launcher script, the API and Celery workers on the embedded store and
broker. Each stop comes while a run trains with a checkpoint on disk; after it, no process
of the stack is left, and the run, handed back with its attempt unspent, resumes from its
checkpoint when a worker starts again.
"""

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import pytest

from models.blobs import BlobStore
from tests.conftest import ROOT
from tests.integration.stack import (
    api_client,
    bootstrap_key,
    free_port,
    poll,
    process_env,
    read_key,
    submit,
    wait_healthy,
    wait_terminal,
)

pytestmark = pytest.mark.integration
GRACE_SECONDS = 10  # REGLAB_STOP_GRACE_SECONDS here; the launcher kills at grace + 10 s
GONE_WITHIN = 60.0  # every process ended by then, on a loaded machine too
EPOCHS = 100  # many short epochs: in flight at the stop, quick once resumed
RESUMED_CHECKPOINT_SECONDS = 600  # a resumed run finishes without a checkpoint per epoch
LONG_RUN = {
    "name": "in flight",
    "spec": {
        "dataset": {"name": "moons", "n_samples": 300},
        "model": {"hidden": [16]},
        "training": {"epochs": EPOCHS, "batch_size": 16},
    },
}
Stop = Callable[[int], None]  # given the pid of the process started (a group leader)
STOPS: dict[str, Stop] = {
    "sigterm-main": lambda pid: os.kill(pid, signal.SIGTERM),
    "sigterm-group": lambda pid: os.killpg(pid, signal.SIGTERM),
    "ctrl-c": lambda pid: os.killpg(pid, signal.SIGINT),
}


def stack_env(home: Path, port: int, checkpoint_seconds: float = 0) -> dict[str, str]:
    """The environment of a stack on `home`: checkpoints this often (0: every epoch)."""
    env = process_env(
        {
            "REGLAB_HOME": str(home),
            "REGLAB_PORT": str(port),
            "REGLAB_CHECKPOINT_MIN_SECONDS": str(checkpoint_seconds),
            "REGLAB_STOP_GRACE_SECONDS": str(GRACE_SECONDS),
        }
    )
    env["VENV"] = str(Path(env["PATH"].split(os.pathsep)[0]).parent)
    return env


def family(pid: int) -> list[psutil.Process]:
    """The process `pid` and every process below it."""
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def alive(process: psutil.Process) -> bool:
    """Whether `process` still runs (a zombie has ended; its parent has yet to reap it)."""
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(processes: list[psutil.Process]) -> None:
    """Every process ends within the deadline."""
    try:
        poll(lambda: None if any(map(alive, processes)) else True, timeout=GONE_WITHIN)
    except TimeoutError:
        left = [p.cmdline() for p in processes if alive(p)]
        raise AssertionError(f"still running after {GONE_WITHIN} s: {left}") from None


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[int]:
    """Start `command` as the leader of a new session; yields its pid; nothing outlives it."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc.pid
    finally:
        for leftover in family(proc.pid) if proc.poll() is None else []:
            leftover.kill()
        proc.wait(timeout=30)


def in_flight(api: httpx.Client, run_id: int, home: Path) -> dict[str, Any]:
    """Wait until the run trains with a checkpoint saved; returns the run."""
    blobs = BlobStore(str(home / "blobs"))  # the default store, in the stack's home

    def training() -> dict[str, Any] | None:
        run: dict[str, Any] = api.get(f"/runs/{run_id}", timeout=5).json()
        saved = bool(blobs.list_named(f"checkpoints/run-{run_id}"))
        return run if run["status"] == "running" and saved else None

    run = poll(training, timeout=120)
    assert run["epochs_done"] < EPOCHS, "the run ended before the stop: make it longer"
    return run


def assert_resumed(api: httpx.Client, run_id: int) -> None:
    """The handed-back run resumed from a checkpoint and trained every epoch once."""
    run = wait_terminal(api, run_id, timeout=180)
    assert run["status"] == "succeeded", run
    assert run["attempts"] == 1, "a stop spends no attempt"
    assert run["resumed_from_epoch"] is not None and run["resumed_from_epoch"] >= 1, run
    metrics = api.get(f"/runs/{run_id}/metrics", params={"keys": "train_loss"}).json()
    assert metrics["epochs"] == list(range(1, EPOCHS + 1))


@pytest.mark.parametrize("stop", list(STOPS))
def test_make_run_stops_and_the_run_resumes(tmp_path: Path, stop: str) -> None:
    home, port = tmp_path / "home", free_port()
    base_url, env = f"http://127.0.0.1:{port}", stack_env(home, port)
    launcher = ["./scripts/run_local.sh"]
    with started(launcher, env, tmp_path / "stack.log") as pid:
        wait_healthy(base_url)
        key = read_key(home)  # written by the launcher before it starts the API
        with api_client(base_url, key) as api:
            run_id = submit(api, LONG_RUN)
            in_flight(api, run_id, home)
        processes = family(pid)
        assert len(processes) >= 4, "the script, the API, the worker and its pool child"
        STOPS[stop](pid)
        assert_all_gone(processes)
    # Resumed, it finishes without stopping for a checkpoint each epoch; the key still holds.
    with (
        started(
            launcher, stack_env(home, port, RESUMED_CHECKPOINT_SECONDS), tmp_path / "stack.log"
        ),
        api_client(base_url, key) as api,
    ):
        wait_healthy(base_url)
        assert_resumed(api, run_id)
    assert read_key(home) == key


@pytest.mark.parametrize("stop", list(STOPS))
def test_a_worker_hands_its_run_back(tmp_path: Path, stop: str) -> None:
    home, port = tmp_path / "home", free_port()
    base_url, env = f"http://127.0.0.1:{port}", stack_env(home, port)
    subprocess.run([f"{env['VENV']}/bin/alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True)
    key = bootstrap_key(env)
    worker = ["celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO"]
    with (
        started(["python", "-m", "api"], env, tmp_path / "api.log"),
        api_client(base_url, key) as api,
    ):
        wait_healthy(base_url)
        with started(worker, env, tmp_path / "worker.log") as pid:
            run_id = submit(api, LONG_RUN)
            in_flight(api, run_id, home)
            processes = family(pid)
            STOPS[stop](pid)
            assert_all_gone(processes)
        run = api.get(f"/runs/{run_id}").json()
        assert (run["status"], run["attempts"], run["worker"]) == ("queued", 0, None), run
        env = stack_env(home, port, RESUMED_CHECKPOINT_SECONDS)
        with started(worker, env, tmp_path / "worker.log"):
            assert_resumed(api, run_id)
