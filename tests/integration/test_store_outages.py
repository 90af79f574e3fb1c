"""The store goes away under a running stack (a Postgres restart, an outage): nothing is lost.

Each test runs a private Postgres (initdb in a temp folder) that it may stop and start.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import migrate, unavailable
from tests.integration.compose import admin_key, service
from tests.integration.servers import PrivatePostgres
from tests.integration.stack import (
    api_client,
    free_port,
    poll,
    running,
    submit,
    wait_healthy,
    wait_terminal,
)
from tests.integration.test_chaos import FAST_RECOVERY, SPEC, curves, tiny

pytestmark = pytest.mark.integration


@contextmanager
def private_postgres_env(
    redis_url: str, tmp_path: Path
) -> Iterator[tuple[PrivatePostgres, dict[str, str], httpx.Client]]:
    """A migrated private Postgres (one we may stop), the services' env, an API client."""
    if shutil.which("runuser") is None and os.geteuid() == 0:
        unavailable("runuser (to run a private Postgres as root)")
    with PrivatePostgres(free_port()) as database:
        migrate(database.url)
        env = {
            **FAST_RECOVERY,
            "REGLAB_DATABASE_URL": database.url,
            "REGLAB_BROKER_URL": redis_url,
            "REGLAB_HOME": str(tmp_path),
            "REGLAB_HOST": "127.0.0.1",
            "REGLAB_PORT": str(free_port()),
        }
        with api_client(f"http://127.0.0.1:{env['REGLAB_PORT']}", admin_key(env)) as api:
            yield database, env, api


def test_run_survives_a_postgres_restart(redis_url: str, tmp_path: Path) -> None:
    with (
        private_postgres_env(redis_url, tmp_path) as (database, env, api),
        running(*service("api", env), tmp_path / "api.log"),
        running(*service("worker", env), tmp_path / "worker.log"),
    ):
        wait_healthy(api.base_url)
        run_id = submit(api, {"name": "survivor", "spec": SPEC})
        poll(
            lambda: api.get(f"/runs/{run_id}").json()["epochs_done"] >= 5 or None,
            timeout=120,
            interval=0.05,
        )
        database.restart()
        run = wait_terminal(api, run_id, timeout=180)
        assert (run["status"], run["attempts"], run["epochs_done"]) == ("succeeded", 1, 30), run
        assert curves(api, run_id)["epochs"] == list(range(1, 31))


def test_api_answers_503_while_postgres_is_down_and_recovers(
    redis_url: str, tmp_path: Path
) -> None:
    with private_postgres_env(redis_url, tmp_path) as (database, env, api):
        body, key = tiny("during-outage"), {"Idempotency-Key": "outage-1"}
        with running(*service("api", env), tmp_path / "api.log"):
            wait_healthy(api.base_url)
            assert api.get("/runs").status_code == 200  # pooled connections
            database.stop()
            for response in (
                api.get("/runs"),
                api.post("/experiments", json=body, headers=key),
            ):
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"] == "5"
                assert "Idempotency-Key" in response.json()["detail"]
            database.start()
            first = api.post("/experiments", json=body, headers=key)
            again = api.post("/experiments", json=body, headers=key)
            assert (first.status_code, again.status_code) == (202, 202)
            assert first.json()["id"] == again.json()["id"]
            listed = api.get("/experiments").json()
            assert [e["name"] for e in listed["items"]] == ["during-outage"]


def test_run_delivered_while_postgres_is_down_is_retried_by_celery(
    redis_url: str, tmp_path: Path
) -> None:
    with private_postgres_env(redis_url, tmp_path) as (database, env, api):
        # The worker gives up its own retries after 1 s, and no timed re-send could help.
        env = {**env, "REGLAB_DB_RETRY_SECONDS": "1", "REGLAB_REQUEUE_AFTER_SECONDS": "3600"}
        worker_log = tmp_path / "worker.log"
        with running(*service("api", env), tmp_path / "api.log"):
            wait_healthy(api.base_url)
            run_id = submit(api, tiny("delivered-into-an-outage"))
            database.stop()
            with running(*service("worker", env), worker_log):
                poll(lambda: "Retry in" in worker_log.read_text() or None, timeout=60)
                database.start()
                run = wait_terminal(api, run_id, timeout=120)
                assert (run["status"], run["attempts"]) == ("succeeded", 1), run
