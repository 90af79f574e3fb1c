"""Real processes for integration tests: start them, wait on them with deadlines, stop them."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from models.metric_names import EPOCH_METRICS
from tests.conftest import ROOT

T = TypeVar("T")
# The smallest experiment worth training: one epoch of a tiny net on 200 points.
TINY = {
    "name": "tiny",
    "spec": {
        "dataset": {"name": "moons", "n_samples": 200},
        "model": {"hidden": [8]},
        "training": {"epochs": 1},
    },
}
# A loss that becomes non-finite within a few epochs: the run fails as `diverged`.
DIVERGES: dict[str, Any] = {
    "name": "diverges",
    "spec": {
        "dataset": {"name": "moons", "n_samples": 300},
        "model": {"hidden": [64, 64]},
        "optimizer": {"name": "sgd", "lr": 10.0, "momentum": 0.99},
        "training": {"epochs": 30},
    },
}
BACKENDS = ("torch", "tensorflow")
TERMINAL = {"succeeded", "failed", "cancelled", "pruned"}
KEY_FILE = "api_key"  # in REGLAB_HOME: where `make run` and `bootstrap_key` leave the key


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(overrides: dict[str, str]) -> dict[str, str]:
    """This environment with the venv's bin first on PATH (so `celery`, `python` are ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGLAB_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(overrides)
    return env


def poll(check: Callable[[], T | None], *, timeout: float, interval: float = 0.1) -> T:
    """Call `check` until it returns something other than None, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result is not None:
            return result
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")


@contextmanager
def running(command: Sequence[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """Run `command` in its own process group for the duration of the block."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_healthy(base_url: str | httpx.URL, timeout: float = 60) -> None:
    """Wait until the API answers /health with 200 (a public route: no key needed)."""
    url = httpx.URL(base_url).join("/health")

    def healthy() -> bool | None:
        try:
            return httpx.get(url, timeout=2).status_code == 200 or None
        except httpx.HTTPError:
            return None

    poll(healthy, timeout=timeout, interval=0.2)


def read_key(home: Path) -> str:
    """The API key a stack keeps in its home (`make run` writes it on first start)."""
    return (home / KEY_FILE).read_text().strip()


def bootstrap_key(env: dict[str, str]) -> str:
    """An admin key for the API run with `env` (its store migrated), made by the admin CLI."""
    # What `make run` does before it starts the API, into the same file.
    home = Path(env["REGLAB_HOME"])
    command = ["python", "-m", "api", "admin", "bootstrap", "--key-file", str(home / KEY_FILE)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return read_key(home)


def api_client(base_url: str, key: str, timeout: float = 30) -> httpx.Client:
    """A client of the API at `base_url` that sends `key` as its bearer token on every request."""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout)


def submit(api: httpx.Client, body: dict[str, Any]) -> int:
    """POST an experiment and return its first run id."""
    response = api.post("/experiments", json=body, timeout=10)
    assert response.status_code == 202, response.text
    return int(response.json()["runs"][0]["id"])


def wait_terminal(api: httpx.Client, run_id: int, timeout: float) -> dict[str, Any]:
    """Poll a run until it reaches a terminal status and return it."""

    def terminal() -> dict[str, Any] | None:
        response = api.get(f"/runs/{run_id}", timeout=5)
        if response.status_code != 200:  # e.g. the store restarting under a chaos test
            return None
        run: dict[str, Any] = response.json()
        return run if run["status"] in TERMINAL else None

    return poll(terminal, timeout=timeout, interval=0.2)


def example_body() -> dict[str, Any]:
    """The README's example request, exactly as shipped."""
    body: dict[str, Any] = json.loads((ROOT / "examples" / "digits_mlp.json").read_text())
    return body


def assert_failure_leaves_worker_serving(api: httpx.Client) -> None:
    """A run whose loss diverges fails readably; the worker then takes the next run."""
    run = wait_terminal(api, submit(api, DIVERGES), timeout=120)
    assert (run["status"], run["error"]["type"]) == ("failed", "diverged"), run
    assert run["error"]["epoch"] == run["epochs_done"] and "optimizer.lr" in run["error"]["message"]


def assert_digits_example_trains(api: httpx.Client, backend: str = "torch") -> None:
    """The README example on a backend: 15 epochs of every metric and test_acc >= 0.90."""
    body = example_body()
    body["spec"]["backend"] = backend
    run_id = submit(api, body)
    run = wait_terminal(api, run_id, timeout=180)
    assert run["status"] == "succeeded", run
    assert run["epochs_done"] == 15
    metrics = api.get(f"/runs/{run_id}/metrics", timeout=10).json()
    assert metrics["epochs"] == list(range(1, 16))
    assert set(metrics["series"]) == set(EPOCH_METRICS)
    assert all(len(v) == 15 and None not in v for v in metrics["series"].values())
    assert run["summary"]["test_acc"] >= 0.90, run["summary"]


def assert_curves_grow_while_training(api: httpx.Client) -> None:
    """A 30-epoch run shows more epochs on each read while it trains."""
    body = {
        "name": "growing",
        "spec": {
            "dataset": {"name": "classification", "n_samples": 20000},
            "model": {"hidden": [128, 64]},
            "training": {"epochs": 30, "batch_size": 32},
        },
    }
    run_id = submit(api, body)
    seen: list[int] = []

    def finished() -> bool | None:
        read = api.get(f"/runs/{run_id}/metrics", params={"keys": "train_loss"}, timeout=5).json()
        seen.append(len(read["epochs"]))
        return True if seen[-1] == 30 else None

    poll(finished, timeout=180, interval=0.1)
    partial = sorted({n for n in seen if 0 < n < 30})
    assert len(partial) >= 3, seen
    assert seen == sorted(seen), "epochs only ever grow"
    assert wait_terminal(api, run_id, timeout=30)["status"] == "succeeded"


def assert_backends_agree_in_compare_view(api: httpx.Client) -> None:
    """A torch/tensorflow pair (dropout 0) differs by < 1e-3 relative in train_loss."""
    spec = {
        "dataset": {"name": "digits"},
        "model": {"hidden": [64]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "regularization": {"l2": 1e-4},
        "training": {"epochs": 5},
    }
    ids = [submit(api, {"name": b, "spec": {**spec, "backend": b}}) for b in BACKENDS]
    for run_id in ids:
        assert wait_terminal(api, run_id, timeout=120)["status"] == "succeeded"
    params = {"run_ids": ",".join(map(str, ids)), "keys": "train_loss"}
    view = api.get("/compare", params=params, timeout=10).json()
    assert view["differing_spec"] == {"backend": dict(zip(map(str, ids), BACKENDS, strict=True))}
    assert view["max_relative_deviation"]["train_loss"] < 1e-3, view


def assert_search_runs_to_the_end(api: httpx.Client) -> None:
    """A grid search one configuration at a time: the worker starts each next run itself."""
    body = {
        "name": "grid",
        "spec": {"dataset": {"name": "moons", "n_samples": 300}, "training": {"epochs": 2}},
        "search": {
            "space": {"regularization.dropout": [0.0, 0.3]},
            "seeds": [0, 1],
            "max_parallel": 1,
        },
    }
    response = api.post("/experiments", json=body, timeout=10)
    assert response.status_code == 202, response.text
    assert len(response.json()["runs"]) == 2  # the first configuration's two seeds

    def done() -> dict[str, Any] | None:
        read: dict[str, Any] = api.get(response.headers["location"]).json()
        return read if read["progress"]["succeeded"] == 4 else None

    experiment = poll(done, timeout=120, interval=0.2)
    assert len(experiment["runs"]) == 4 and experiment["best_run"] is not None


def assert_stack_serves(api: httpx.Client) -> None:
    """The acceptance path of a whole, healthy stack: failures, the example, live curves."""
    assert_failure_leaves_worker_serving(api)
    assert_digits_example_trains(api)
    # The same worker child now trains a Keras run right after a torch one.
    assert_digits_example_trains(api, backend="tensorflow")
    assert_backends_agree_in_compare_view(api)
    assert_search_runs_to_the_end(api)
    assert_curves_grow_while_training(api)
