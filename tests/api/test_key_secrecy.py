"""After its creation, a raw key appears nowhere: not in any column of any table, not in the
logs (every logger at DEBUG, SQL and uvicorn's access log included), not in any response."""

import logging
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import sessionmaker
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from api.auth import secret_key
from api.main import app
from models.services.keys import create_key, parse_raw_key
from models.store.tables import DEFAULT_PROJECT_ID
from tests.api.served import on_store, served
from tests.conftest import ROOT
from tests.factories import spec_dict

# What `python -m api` prints for each request (uvicorn's default access format).
ACCESS = AccessFormatter(LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=False)


def cli_key(database_url: str) -> str:
    """A key made by `python -m api admin create-key`, as an operator would (printed once)."""
    command = [sys.executable, "-m", "api", "admin", "create-key", "--project", "default",
               "--scopes", "read,write", "--name", "cli"]  # fmt: skip
    # The server secret of the API in this process, whatever home its settings were read from.
    env = {
        **os.environ,
        "REGLAB_DATABASE_URL": database_url,
        "REGLAB_SECRET_KEY": secret_key().decode(),
    }
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def tampered(raw_key: str) -> str:
    """The key with the last character of its secret changed."""
    return raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")


def every_row(engine: Engine) -> str:
    """Every row of every table of the database, as text."""
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        assert {"api_key", "experiment", "run", "project"} <= set(tables)
        rows = [
            f"{table}: {row!r}"
            for table in tables
            for row in connection.execute(text(f'SELECT * FROM "{table}"'))
        ]
    return "\n".join(rows)


def exchanges(http: httpx.Client, raw_key: str) -> list[httpx.Response]:
    """Reads, writes and refusals made with the key and a tampered copy of it."""
    auth = {"Authorization": f"Bearer {raw_key}"}
    bad = {"Authorization": f"Bearer {tampered(raw_key)}"}
    posted = http.post("/experiments", json={"name": "secret", "spec": spec_dict()}, headers=auth)
    run_id = posted.json()["runs"][0]["id"]
    return [
        posted,
        http.get("/experiments", headers=auth),
        http.get(f"/runs/{run_id}", headers=auth),
        http.post(f"/runs/{run_id}/cancel", headers=auth),
        http.get("/experiments", headers=bad),
        http.post("/experiments", json={"name": "refused", "spec": spec_dict()}, headers=bad),
        http.get(
            f"/runs/{run_id}", params={"note": "no key here"}, headers={"Authorization": raw_key}
        ),
    ]


def test_the_raw_key_appears_nowhere_after_creation(
    fresh_sessions: sessionmaker[Any], caplog: pytest.LogCaptureFixture
) -> None:
    engine: Engine = fresh_sessions.kw["bind"]
    _, by_service = create_key(
        fresh_sessions, project_id=DEFAULT_PROJECT_ID, name="service", scopes=["write"],
        expires_at=None, secret_key=secret_key(), created_by=None,
    )  # fmt: skip
    by_cli = cli_key(engine.url.render_as_string(hide_password=False))
    raw_keys = [by_service, by_cli]
    for name in ["", *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name or None)

    with on_store(app, fresh_sessions), served(app) as base, httpx.Client(base_url=base) as http:
        responses = [r for raw_key in raw_keys for r in exchanges(http, raw_key)]

    assert [r.status_code for r in responses] == [202, 200, 200, 200, 401, 401, 401] * 2
    said = "\n".join(f"{r.headers.multi_items()!r} {r.text}" for r in responses)
    logged = caplog.text + "\n".join(
        ACCESS.format(r) for r in caplog.records if r.name == "uvicorn.access"
    )
    stored = every_row(engine)
    # The capture works: the logs hold the SQL and the access lines, the store the key ids.
    assert "FROM api_key" in logged and '"POST /experiments HTTP/1.1" 401' in logged
    for raw_key in raw_keys:
        key_id, secret = parse_raw_key(raw_key) or ("", "")
        assert key_id in stored and key_id in said  # who did what: the public id only
        for leak in (raw_key, secret, tampered(raw_key), tampered(raw_key)[16:]):
            assert leak not in stored
            assert leak not in logged
            assert leak not in said
