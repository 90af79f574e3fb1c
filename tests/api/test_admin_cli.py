"""`python -m api admin`, run as an operator would, against a migrated store of its own."""

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from models.services import keys
from models.services.keys import KeyIdentity
from models.settings import Settings
from models.store.db import make_engine, make_sessionmaker
from tests.conftest import ROOT, migrate, scratch_postgres

RAW_KEY = re.compile(r"rl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an API whose newly migrated store and home are the test's own."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reglab.sqlite'}"
        migrate(url)
        yield {**os.environ, "REGLAB_HOME": str(home), "REGLAB_DATABASE_URL": url}
        return
    with scratch_postgres() as url:
        migrate(url)
        yield {**os.environ, "REGLAB_HOME": str(home), "REGLAB_DATABASE_URL": url}


def admin(env: dict[str, str], *args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
    """Run one admin command; it must end with `status`."""
    command = [sys.executable, "-m", "api", "admin", *args]
    env = {k: v for k, v in env.items() if k != "REGLAB_SECRET_KEY"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == status, done.stdout + done.stderr
    return done


def authenticate(env: dict[str, str], raw_key: str) -> KeyIdentity | None:
    """What the API run with `env` makes of the key."""
    engine = make_engine(env["REGLAB_DATABASE_URL"])
    sessions: sessionmaker[Any] = make_sessionmaker(engine)
    secret_key = Settings(home=Path(env["REGLAB_HOME"])).resolved_secret_key()
    now = datetime.now(UTC)
    with sessions() as session:
        identity = keys.authenticate(session, raw_key, secret_key, now)
    if identity is not None and identity.use_due(now):
        keys.record_use(sessions, identity, now)  # as the API does after its response
    engine.dispose()
    return identity


def test_a_key_made_with_the_cli_authenticates_until_revoked(env: dict[str, str]) -> None:
    created = re.fullmatch(
        r"created project 'team-a' \(id (\d+)\)\n", admin(env, "create-project", "team-a").stdout
    )
    assert created is not None
    projects = [line.split()[:2] for line in admin(env, "list-projects").stdout.splitlines()]
    assert projects[0] == ["ID", "NAME"] and [created[1], "team-a"] in projects
    made = admin(env, "create-key", "--project", "team-a", "--scopes", "write,read", "--name", "ci")
    raw_key = made.stdout.strip()
    assert RAW_KEY.fullmatch(raw_key) and made.stdout == raw_key + "\n"
    key_id, secret = raw_key[3:15], raw_key[16:]
    assert f"key {key_id} of project 'team-a' (read,write)" in made.stderr
    assert secret not in made.stderr
    assert authenticate(env, raw_key) == KeyIdentity(
        id=1, key_id=key_id, project_id=int(created[1]), scopes=frozenset({"read", "write"})
    )

    listed = admin(env, "list-keys", "--project", "team-a").stdout
    assert secret not in listed
    [header, row] = listed.splitlines()
    assert " ".join(header.split()) == "KEY ID NAME SCOPES CREATED EXPIRES LAST USED STATE"
    assert [row.split()[i] for i in (0, 1, 2, 4, 6)] == [key_id, "ci", "read,write", "-", "active"]
    assert row.split()[5].startswith(str(datetime.now(UTC).year))  # last used: recorded

    assert admin(env, "revoke-key", key_id).stdout == f"revoked key {key_id}\n"
    assert authenticate(env, raw_key) is None
    assert admin(env, "list-keys", "--project", "team-a").stdout.split()[-1] == "revoked"


def test_refusals_name_their_reason(env: dict[str, str]) -> None:
    admin(env, "create-project", "team-a")
    again = admin(env, "create-project", "team-a", status=1)
    assert again.stderr == "error: a project named 'team-a' exists already\n"
    missing = admin(env, "create-key", "--project", "team-b", "--scopes", "read", status=1)
    assert missing.stderr == "error: no project named 'team-b'\n"
    unknown = admin(env, "create-key", "--project", "team-a", "--scopes", "read,root", status=2)
    message = "scopes must be one or more of read, write, admin, metrics; got ['read', 'root']"
    assert message in unknown.stderr
    assert admin(env, "revoke-key", "0123456789ab", status=1).stderr == (
        "error: API key 0123456789ab not found\n"
    )
    assert "12 hex digits" in admin(env, "revoke-key", "not-a-key", status=2).stderr


def test_bootstrap_writes_a_local_admin_key_once(env: dict[str, str]) -> None:
    key_file = Path(env["REGLAB_HOME"]) / "api_key"
    assert admin(env, "bootstrap", "--key-file", str(key_file)).stdout == f"{key_file}\n"
    raw_key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    identity = authenticate(env, raw_key)
    assert identity is not None and identity.scopes == {"read", "write", "admin"}

    again = admin(env, "bootstrap", "--key-file", str(key_file))
    assert (again.stdout, again.stderr) == ("", "")
    assert key_file.read_text() == raw_key + "\n"
    listed = admin(env, "list-keys", "--project", "default").stdout.splitlines()
    assert len(listed) == 2 and "local admin" in listed[1]


def test_bootstrap_replaces_a_key_file_the_store_refuses(env: dict[str, str]) -> None:
    key_file = Path(env["REGLAB_HOME"]) / "api_key"
    admin(env, "bootstrap", "--key-file", str(key_file))
    old_key = key_file.read_text().strip()
    admin(env, "revoke-key", old_key[3:15])
    replaced = admin(env, "bootstrap", "--key-file", str(key_file))
    assert replaced.stdout == f"{key_file}\n"
    assert f"the key in {key_file} is not accepted by this store" in replaced.stderr
    [aside] = key_file.parent.glob("api_key.refused-*")
    assert aside.read_text().strip() == old_key and str(aside) in replaced.stderr
    new_key = key_file.read_text().strip()
    assert new_key != old_key and old_key[16:] not in replaced.stderr
    assert authenticate(env, old_key) is None and authenticate(env, new_key) is not None
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
