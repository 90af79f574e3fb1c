"""Live events from a real worker: a client that drops after epoch 3 and reconnects with
Last-Event-ID receives epochs 4..N once each and the final event, on SQLite (`make run`'s
launcher) and on Postgres (compose's api and worker services)."""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import (
    api_client,
    free_port,
    process_env,
    read_key,
    running,
    submit,
    wait_healthy,
)
from tests.integration.test_chaos import stack as postgres_stack
from tests.sse import Message, messages

pytestmark = pytest.mark.integration
EPOCHS = 6
FOLLOWED = {
    "name": "followed",
    "spec": {
        "dataset": {"name": "moons", "n_samples": 1000},
        "model": {"hidden": [16]},
        "training": {"epochs": EPOCHS, "batch_size": 16},
    },
}


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    """A client of a whole stack with a worker, on each store."""
    if request.param == "postgres":
        with postgres_stack(request.getfixturevalue("redis_url"), tmp_path) as client:
            yield client
        return
    home, port = tmp_path / "home", free_port()
    env = process_env({"REGLAB_HOME": str(home), "REGLAB_PORT": str(port)})
    env["VENV"] = str(Path(env["PATH"].split(os.pathsep)[0]).parent)
    base_url = f"http://127.0.0.1:{port}"
    with running(["./scripts/run_local.sh"], env, tmp_path / "stack.log"):
        wait_healthy(base_url)
        with api_client(base_url, read_key(home)) as client:
            yield client


def follow(
    api: httpx.Client, path: str, headers: dict[str, str], until_epoch: int
) -> list[Message]:
    """The events of a stream, read until the given epoch's (then the connection is dropped)
    or to the stream's end."""
    received = []
    with api.stream("GET", path, headers=headers, timeout=120) as response:
        assert response.status_code == 200, response.read()
        for message in messages(response.iter_lines()):
            if message.event is None:
                continue  # a keep-alive
            received.append(message)
            if message.event == "epoch" and message.data["epoch"] == until_epoch:
                break
    return received


def test_a_client_resumes_after_epoch_3_with_each_later_epoch_once(api: httpx.Client) -> None:
    run_id = submit(api, FOLLOWED)
    path = f"/runs/{run_id}/events"
    before = follow(api, path, {}, until_epoch=3)
    assert [m.data["epoch"] for m in before if m.event == "epoch"] == [1, 2, 3]
    assert before[-1].id is not None
    after = follow(api, path, {"Last-Event-ID": before[-1].id}, until_epoch=0)
    assert [m.data["epoch"] for m in after if m.event == "epoch"] == list(range(4, EPOCHS + 1))
    assert [m.event for m in after][-2:] == ["status", "end"]
    assert after[-1].data == {"run_id": run_id, "status": "succeeded", "epochs_done": EPOCHS}
    # Resuming from the end: nothing more, and EventSource's signal to stop (204).
    assert api.get(path, headers={"Last-Event-ID": after[-1].id or ""}).status_code == 204
