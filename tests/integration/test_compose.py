"""docker-compose.yml kept honest: its migrate, api and worker commands, with their
environment, run here against local Postgres and Redis, and train the README example."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.conftest import REDIS_URL, ROOT, scratch_postgres, unavailable
from tests.integration.stack import (
    assert_stack_serves,
    free_port,
    process_env,
    running,
)

pytestmark = pytest.mark.integration
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service(name: str, local: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """A compose service's command and environment, with compose hosts mapped to local ones."""
    spec = COMPOSE["services"][name]
    env = {k: str(v) for k, v in spec["environment"].items()}
    assert env["REGLAB_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["REGLAB_BROKER_URL"].startswith("redis://")
    env.update(local)
    return list(spec["command"]), process_env(env)


@pytest.fixture
def redis_url() -> str:
    """An emptied Redis database for this test."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.RedisError:
        unavailable(f"Redis at {REDIS_URL}")
    return REDIS_URL


def test_compose_services_train_on_postgres_and_redis(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    with scratch_postgres() as database_url:
        local = {
            "REGLAB_DATABASE_URL": database_url,
            "REGLAB_BROKER_URL": redis_url,
            "REGLAB_HOME": str(tmp_path),
            "REGLAB_HOST": "127.0.0.1",
            "REGLAB_PORT": str(port),
        }
        command, env = service("migrate", local)
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        api_command, api_env = service("api", local)
        worker_command, worker_env = service("worker", local)
        with (
            running(worker_command, worker_env, tmp_path / "worker.log"),
            running(api_command, api_env, tmp_path / "api.log"),
        ):
            assert_stack_serves(f"http://127.0.0.1:{port}")
