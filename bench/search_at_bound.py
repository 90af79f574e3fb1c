"""A search at its bound, through HTTP on the embedded stack (`make run`'s processes).

Prints how long `POST /experiments` takes for a 2,000-run grid with `max_parallel` 1,000
(against a one-run POST in the same run), how long until the 1,000 configurations are
started after the response, how long the cancel takes and how many of its messages stay in
the broker, and how long a new experiment's first run then waits to start. The baseline for
the last figure: the same wait behind 200 messages of cancelled runs left in the queue
(what a cancel did before it withdrew them), measured in the same run.

    python bench/search_at_bound.py
"""

import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from models.messaging.broker import Broker  # noqa: E402
from models.messaging.queue import TRAIN_RUN_TASK, queue_for  # noqa: E402
from models.settings import Settings  # noqa: E402
from tests.conftest import migrate  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    TINY,
    api_client,
    bootstrap_key,
    free_port,
    poll,
    process_env,
    running,
    wait_healthy,
)

SPEC = TINY["spec"]
T = TypeVar("T")
GRID = {
    "method": "grid",
    "space": {
        "regularization.dropout": [round(i / 100, 2) for i in range(40)],
        "optimizer.lr": [round(0.001 * (i + 1), 3) for i in range(50)],
    },
    "max_parallel": 1000,
}


def timed(call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def wait_running(client: httpx.Client, run_id: int) -> float:
    """Seconds from now until the run leaves `queued`."""
    start = time.perf_counter()
    poll(lambda: client.get(f"/runs/{run_id}").json()["status"] != "queued" or None, timeout=600)
    return time.perf_counter() - start


def first_run_wait(client: httpx.Client, name: str) -> float:
    """POST a one-run experiment; seconds until its run starts."""
    start = time.perf_counter()
    body = client.post("/experiments", json={"name": name, "spec": SPEC}).json()
    wait_running(client, body["runs"][0]["id"])
    return time.perf_counter() - start


def messages_left(folder: Path) -> int:
    """Run messages in the embedded broker (the reconciler's marker aside)."""
    return len(list(folder.glob("*.reglab.torch.msg")))


def measure(client: httpx.Client, home: Path) -> None:
    folder = Settings(home=home).embedded_broker_folder()
    assert folder is not None
    print(f"warm-up (worker child imports torch): {first_run_wait(client, 'warm'):.2f} s")
    _, one_s = timed(lambda: client.post("/experiments", json={"name": "one", "spec": SPEC}))
    big, big_s = timed(
        lambda: client.post("/experiments", json={"name": "big", "spec": SPEC, "search": GRID})
    )
    assert big.status_code == 202, big.text
    experiment = big.json()["id"]
    print(f"POST one run:                 {one_s * 1000:8.1f} ms")
    print(
        f"POST 2,000-run grid (mp 1000): {big_s * 1000:8.1f} ms  ({big_s / one_s:.1f}x one run)"
        f", {len(big.json()['runs'])} runs in the response"
    )

    def count() -> int:
        runs = client.get("/runs", params={"experiment_id": experiment, "limit": 1})
        return int(runs.json()["total"])

    _, started_s = timed(lambda: poll(lambda: count() >= 1000 or None, timeout=600, interval=0.5))
    print(f"1,000 configurations started {started_s:.1f} s after the response")
    cancel, cancel_s = timed(lambda: client.post(f"/experiments/{experiment}/cancel"))
    assert cancel.status_code == 200, cancel.text
    left = messages_left(folder)
    _, empty_s = timed(lambda: poll(lambda: messages_left(folder) == 0 or None, timeout=600))
    print(
        f"cancel: {cancel_s * 1000:.1f} ms; {left} messages still queued right after it (sent "
        f"by the top-up meanwhile), none {empty_s:.2f} s later"
    )
    after = first_run_wait(client, "after-cancel")
    broker = Broker(Settings(home=home), "bench")
    for run_id in range(10_000_000, 10_000_200):  # no such runs: each is taken and skipped
        broker.send_task(TRAIN_RUN_TASK, args=[run_id], queue=queue_for("torch"), retry=False)
    behind = first_run_wait(client, "behind-200")
    print(f"new experiment's first run starts after:   {after:.2f} s (queue emptied by the cancel)")
    print(
        f"baseline, behind 200 skipped messages:     {behind:.2f} s "
        f"({behind / 200 * 1000:.0f} ms each; 2,000 would take ~{behind * 10:.0f} s)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        home, port = Path(tmp), free_port()
        env = process_env(
            {"REGLAB_HOME": str(home), "REGLAB_PORT": str(port), "REGLAB_BACKENDS": "torch"}
        )
        migrate(f"sqlite:///{home / 'reglab.sqlite'}")
        key = bootstrap_key(env)
        stack.enter_context(running([sys.executable, "-m", "api"], env, home / "api.log"))
        worker = ["celery", "-A", "workers.celery_app", "worker", "--loglevel", "WARNING"]
        stack.enter_context(running(worker, env, home / "worker.log"))
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        with api_client(base, key, timeout=600) as client:
            measure(client, home)


if __name__ == "__main__":
    main()
