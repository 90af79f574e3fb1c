"""docker-compose.yml's services, run here with compose's hosts mapped to local ones."""

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, scratch_postgres
from tests.integration.stack import free_port, process_env

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service(name: str, local: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """A compose service's command and environment, with compose hosts mapped to local ones."""
    spec = COMPOSE["services"][name]
    env = {k: str(v) for k, v in spec["environment"].items()}
    assert env["REGLAB_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["REGLAB_BROKER_URL"].startswith("redis://")
    env.update(local)
    return list(spec["command"]), process_env(env)


@contextmanager
def migrated_stack(redis_url: str, home: Path) -> Iterator[dict[str, str]]:
    """Local stand-ins for compose's hosts, with the compose `migrate` service run on them."""
    with scratch_postgres() as database_url:
        local = {
            "REGLAB_DATABASE_URL": database_url,
            "REGLAB_BROKER_URL": redis_url,
            "REGLAB_HOME": str(home),
            "REGLAB_HOST": "127.0.0.1",
            "REGLAB_PORT": str(free_port()),
        }
        command, env = service("migrate", local)
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        yield local
