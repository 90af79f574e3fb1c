"""docker-compose.yml kept honest: its migrate, api and worker commands, with their
environment, run here against local Postgres and Redis, and train the README example."""

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from api.settings import Settings
from tests.conftest import ROOT
from tests.factories import spec_dict
from tests.integration.compose import (
    COMPOSE,
    TEST_SECRETS,
    compose_env,
    env_file,
    migrated_stack,
    service,
)
from tests.integration.stack import (
    api_client,
    assert_stack_serves,
    poll,
    running,
    submit,
    wait_healthy,
    wait_terminal,
)
from tests.integration.uploads import assert_uploads_train

pytestmark = pytest.mark.integration
SECRETS = {"postgres": "POSTGRES_PASSWORD", "api": "REGLAB_SECRET_KEY"}


def test_secrets_come_from_env_and_only_the_api_is_published() -> None:
    services = COMPOSE["services"]
    for name, secret in SECRETS.items():
        # Not a literal: an interpolation compose refuses to start without.
        assert services[name]["environment"][secret].startswith(f"${{{secret}:?"), name
        missing = {**env_file(ROOT / ".env.example"), **TEST_SECRETS, secret: ""}
        with pytest.raises(ValueError, match=secret):
            compose_env(name, missing)  # as .env.example leaves it
        assert env_file(ROOT / ".env.example")[secret] == ""
    assert "${POSTGRES_PASSWORD:?" in services["migrate"]["environment"]["REGLAB_DATABASE_URL"]
    assert [name for name, spec in services.items() if "ports" in spec] == ["api"]
    # Workers never check a key, so they do not hold the secret that hashes them.
    assert "REGLAB_SECRET_KEY" not in services["worker"]["environment"]
    variables = {**env_file(ROOT / ".env.example"), **TEST_SECRETS}
    hosts = Settings(allowed_hosts=compose_env("api", variables)["REGLAB_ALLOWED_HOSTS"])
    assert hosts.allowed_host_list() == ["localhost", "127.0.0.1", "api"]
    added = {**variables, "REGLAB_ALLOWED_HOSTS": "reglab.example.com"}
    hosts = Settings(allowed_hosts=compose_env("api", added)["REGLAB_ALLOWED_HOSTS"])
    assert hosts.allowed_host_list() == ["localhost", "127.0.0.1", "api", "reglab.example.com"]
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_compose_services_train_on_postgres_and_redis(redis_url: str, tmp_path: Path) -> None:
    with migrated_stack(redis_url, tmp_path) as (local, key):
        api_command, api_env = service("api", local)
        worker_command, worker_env = service("worker", local)
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        with (
            running(worker_command, worker_env, tmp_path / "worker.log"),
            running(api_command, api_env, tmp_path / "api.log"),
            api_client(base_url, key) as api,
        ):
            wait_healthy(base_url)
            assert_stack_serves(api)
            assert_uploads_train(api)


def test_one_backend_workers_take_only_their_runs(redis_url: str, tmp_path: Path) -> None:
    with migrated_stack(redis_url, tmp_path) as (local, key):
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        api_command, api_env = service("api", local)
        torch_command, torch_env = service("worker", {**local, "REGLAB_BACKENDS": "torch"})
        with (
            running(api_command, api_env, tmp_path / "api.log"),
            running(torch_command, torch_env, tmp_path / "torch-worker.log"),
            api_client(base_url, key) as api,
        ):
            wait_healthy(base_url)
            keras_run, torch_run = (
                submit(api, {"name": b, "spec": spec_dict(backend=b)})
                for b in ("tensorflow", "torch")
            )
            # Submitted later, done first: the torch-only worker never takes the Keras run.
            assert wait_terminal(api, torch_run, timeout=120)["status"] == "succeeded"
            assert api.get(f"/runs/{keras_run}").json()["status"] == "queued"
            assert redis.Redis.from_url(redis_url).llen("reglab.tensorflow") == 1
            keras_command, keras_env = service("worker", {**local, "REGLAB_BACKENDS": "tensorflow"})
            with running(keras_command, keras_env, tmp_path / "keras-worker.log"):
                assert wait_terminal(api, keras_run, timeout=120)["status"] == "succeeded"


def test_burst_of_idempotent_submissions(redis_url: str, tmp_path: Path) -> None:
    # 200 concurrent POSTs, a quarter of them retries of an earlier key with the same body.
    keys = [f"key-{i}" for i in range(150)] + [f"key-{i}" for i in range(0, 150, 3)]
    random.Random(0).shuffle(keys)
    with migrated_stack(redis_url, tmp_path) as (local, admin_key):
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        api_command, api_env = service("api", local)
        worker_command, worker_env = service("worker", local)
        with (
            running(api_command, api_env, tmp_path / "api.log"),
            running(worker_command, worker_env, tmp_path / "worker.log"),
            api_client(base_url, admin_key, timeout=60) as api,
        ):
            wait_healthy(base_url)

            def post(key: str) -> tuple[str, int]:
                body = {"name": key, "spec": spec_dict(training={"epochs": 1})}
                response = api.post("/experiments", json=body, headers={"Idempotency-Key": key})
                assert response.status_code == 202, response.text
                return key, int(response.json()["id"])

            with ThreadPoolExecutor(max_workers=16) as pool:
                answers = list(pool.map(post, keys))
            ids_by_key: dict[str, set[int]] = {}
            for key, experiment_id in answers:
                ids_by_key.setdefault(key, set()).add(experiment_id)
            assert len(ids_by_key) == 150 and all(len(v) == 1 for v in ids_by_key.values())
            listing = api.get("/experiments", params={"limit": 1}).json()
            assert listing["total"] == 150

            def all_terminal() -> dict[str, Any] | None:
                params: dict[str, str | int] = {
                    "filter": "status in ('queued', 'running')",
                    "limit": 1,
                }
                pending = api.get("/runs", params=params).json()["total"]
                return None if pending else api.get("/runs").json()

            runs = poll(all_terminal, timeout=240, interval=0.5)
            assert runs["total"] == 150
            done = api.get("/runs", params={"filter": "status = 'succeeded'"})
            assert done.json()["total"] == 150
