"""docker-compose.yml kept honest: its migrate, api and worker commands, with their
environment, run here against local Postgres and Redis, and train the README example."""

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.factories import spec_dict
from tests.integration.compose import migrated_stack, service
from tests.integration.stack import (
    assert_stack_serves,
    poll,
    running,
    submit,
    wait_healthy,
    wait_terminal,
)
from tests.integration.uploads import assert_uploads_train

pytestmark = pytest.mark.integration


def test_compose_services_train_on_postgres_and_redis(redis_url: str, tmp_path: Path) -> None:
    with migrated_stack(redis_url, tmp_path) as local:
        api_command, api_env = service("api", local)
        worker_command, worker_env = service("worker", local)
        with (
            running(worker_command, worker_env, tmp_path / "worker.log"),
            running(api_command, api_env, tmp_path / "api.log"),
        ):
            assert_stack_serves(f"http://127.0.0.1:{local['REGLAB_PORT']}")
            assert_uploads_train(f"http://127.0.0.1:{local['REGLAB_PORT']}")


def test_one_backend_workers_take_only_their_runs(redis_url: str, tmp_path: Path) -> None:
    with migrated_stack(redis_url, tmp_path) as local:
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        api_command, api_env = service("api", local)
        torch_command, torch_env = service("worker", {**local, "REGLAB_BACKENDS": "torch"})
        with (
            running(api_command, api_env, tmp_path / "api.log"),
            running(torch_command, torch_env, tmp_path / "torch-worker.log"),
        ):
            wait_healthy(base_url)
            keras_run, torch_run = (
                submit(base_url, {"name": b, "spec": spec_dict(backend=b)})
                for b in ("tensorflow", "torch")
            )
            # Submitted later, done first: the torch-only worker never takes the Keras run.
            assert wait_terminal(base_url, torch_run, timeout=120)["status"] == "succeeded"
            assert httpx.get(f"{base_url}/runs/{keras_run}").json()["status"] == "queued"
            assert redis.Redis.from_url(redis_url).llen("reglab.tensorflow") == 1
            keras_command, keras_env = service("worker", {**local, "REGLAB_BACKENDS": "tensorflow"})
            with running(keras_command, keras_env, tmp_path / "keras-worker.log"):
                assert wait_terminal(base_url, keras_run, timeout=120)["status"] == "succeeded"


def test_burst_of_idempotent_submissions(redis_url: str, tmp_path: Path) -> None:
    # 200 concurrent POSTs, a quarter of them retries of an earlier key with the same body.
    keys = [f"key-{i}" for i in range(150)] + [f"key-{i}" for i in range(0, 150, 3)]
    random.Random(0).shuffle(keys)
    with migrated_stack(redis_url, tmp_path) as local:
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        api_command, api_env = service("api", local)
        worker_command, worker_env = service("worker", local)
        with (
            running(api_command, api_env, tmp_path / "api.log"),
            running(worker_command, worker_env, tmp_path / "worker.log"),
        ):
            wait_healthy(base_url)

            def post(key: str) -> tuple[str, int]:
                body = {"name": key, "spec": spec_dict(training={"epochs": 1})}
                response = httpx.post(
                    f"{base_url}/experiments",
                    json=body,
                    headers={"Idempotency-Key": key},
                    timeout=60,
                )
                assert response.status_code == 202, response.text
                return key, int(response.json()["id"])

            with ThreadPoolExecutor(max_workers=16) as pool:
                answers = list(pool.map(post, keys))
            ids_by_key: dict[str, set[int]] = {}
            for key, experiment_id in answers:
                ids_by_key.setdefault(key, set()).add(experiment_id)
            assert len(ids_by_key) == 150 and all(len(v) == 1 for v in ids_by_key.values())
            listing = httpx.get(f"{base_url}/experiments", params={"limit": 1}).json()
            assert listing["total"] == 150

            def all_terminal() -> dict[str, Any] | None:
                params = {"filter": "status in ('queued', 'running')", "limit": 1}
                pending = httpx.get(f"{base_url}/runs", params=params).json()["total"]
                return None if pending else httpx.get(f"{base_url}/runs").json()

            runs = poll(all_terminal, timeout=240, interval=0.5)
            assert runs["total"] == 150
            done = httpx.get(f"{base_url}/runs", params={"filter": "status = 'succeeded'"})
            assert done.json()["total"] == 150
