"""docker-compose.yml's services, run here with compose's hosts mapped to local ones."""

import re
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, scratch_postgres
from tests.integration.stack import free_port, process_env

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# What a user's .env holds in the tests (compose reads .env; .env.example leaves these empty).
TEST_SECRETS = {
    "REGLAB_SECRET_KEY": secrets.token_urlsafe(48),
    "POSTGRES_PASSWORD": secrets.token_hex(24),
}
PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
# The services' URLs of compose's Postgres and Redis, which the tests map to local ones.
COMPOSE_HOSTS = {"REGLAB_DATABASE_URL": "postgresql+psycopg://", "REGLAB_BROKER_URL": "redis://"}
# The forms compose interpolates that docker-compose.yml uses: ${VAR}, ${VAR:-default} (unset
# or empty) and ${VAR:?error} (refuses to start).
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def env_file(path: Path) -> dict[str, str]:
    """The variables of an env file (NAME=value lines; blank lines and comments skipped)."""
    lines = (line.strip() for line in path.read_text().splitlines())
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """`text` with its ${...} replaced as compose does; ValueError where compose would refuse."""

    def value(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        found = variables.get(name, "")
        if found or op is None:
            return found
        if op == ":-":
            return str(arg)
        raise ValueError(f"{name}: {arg}")

    if "$" in VARIABLE.sub("", text):
        raise ValueError(f"a form of interpolation these tests do not resolve: {text!r}")
    return VARIABLE.sub(value, text)


def compose_env(name: str, variables: Mapping[str, str]) -> dict[str, str]:
    """A compose service's environment as compose would pass it, given the .env `variables`."""
    spec = COMPOSE["services"][name]
    return {k: interpolate(str(v), variables) for k, v in spec["environment"].items()}


def service(name: str, local: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """A compose service's command and environment, with compose hosts mapped to local ones."""
    env = compose_env(name, {**env_file(ROOT / ".env.example"), **TEST_SECRETS})
    for variable, scheme in COMPOSE_HOSTS.items():  # what `local` stands in for, if it is used
        assert env.get(variable, scheme).startswith(scheme), (name, variable)
    env.update(local)
    return list(COMPOSE["services"][name]["command"]), process_env(env)


def admin_key(local: dict[str, str]) -> str:
    """A project and an admin key made in the `api` service, as the README tells an operator."""
    command, env = service("api", local)
    subprocess.run([*command, "admin", "create-project", "team"], cwd=ROOT, env=env, check=True)
    return make_key(local, "--project", "team", "--scopes", "admin")


def make_key(local: dict[str, str], *options: str) -> str:
    """A key made by `python -m api admin create-key` in the `api` service."""
    command, env = service("api", local)
    create_key = [*command, "admin", "create-key", *options]
    made = subprocess.run(create_key, cwd=ROOT, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()  # the key, alone on stdout


@contextmanager
def migrated_stack(redis_url: str, home: Path) -> Iterator[tuple[dict[str, str], str]]:
    """Compose's `migrate` run on local stand-ins for its hosts: (their env, an admin key)."""
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
        yield local, admin_key(local)
