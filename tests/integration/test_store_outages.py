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
from tests.integration.compose import service
from tests.integration.servers import PrivatePostgres
from tests.integration.stack import free_port, poll, running, submit, wait_healthy, wait_terminal
from tests.integration.test_chaos import FAST_RECOVERY, SPEC, curves, tiny

pytestmark = pytest.mark.integration


@contextmanager
def private_postgres_env(
    redis_url: str, tmp_path: Path
) -> Iterator[tuple[PrivatePostgres, dict[str, str]]]:
    """A migrated private Postgres (one we may stop), and the env the services need."""
    if shutil.which("runuser") is None and os.geteuid() == 0:
        unavailable("runuser (to run a private Postgres as root)")
    with PrivatePostgres(free_port()) as database:
        migrate(database.url)
        yield (
            database,
            {
                **FAST_RECOVERY,
                "REGLAB_DATABASE_URL": database.url,
                "REGLAB_BROKER_URL": redis_url,
                "REGLAB_HOME": str(tmp_path),
                "REGLAB_HOST": "127.0.0.1",
                "REGLAB_PORT": str(free_port()),
            },
        )


def test_run_survives_a_postgres_restart(redis_url: str, tmp_path: Path) -> None:
    with private_postgres_env(redis_url, tmp_path) as (database, env):
        base_url = f"http://127.0.0.1:{env['REGLAB_PORT']}"
        with (
            running(*service("api", env), tmp_path / "api.log"),
            running(*service("worker", env), tmp_path / "worker.log"),
        ):
            wait_healthy(base_url)
            run_id = submit(base_url, {"name": "survivor", "spec": SPEC})
            poll(
                lambda: httpx.get(f"{base_url}/runs/{run_id}").json()["epochs_done"] >= 5 or None,
                timeout=120,
                interval=0.05,
            )
            database.restart()
            run = wait_terminal(base_url, run_id, timeout=180)
            assert (run["status"], run["attempts"], run["epochs_done"]) == ("succeeded", 1, 30), run
            assert curves(base_url, run_id)["epochs"] == list(range(1, 31))


def test_api_answers_503_while_postgres_is_down_and_recovers(
    redis_url: str, tmp_path: Path
) -> None:
    with private_postgres_env(redis_url, tmp_path) as (database, env):
        base_url = f"http://127.0.0.1:{env['REGLAB_PORT']}"
        body, key = tiny("during-outage"), {"Idempotency-Key": "outage-1"}
        with running(*service("api", env), tmp_path / "api.log"):
            wait_healthy(base_url)
            assert httpx.get(f"{base_url}/runs").status_code == 200  # pooled connections
            database.stop()
            for response in (
                httpx.get(f"{base_url}/runs", timeout=30),
                httpx.post(f"{base_url}/experiments", json=body, headers=key, timeout=30),
            ):
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"] == "5"
                assert "Idempotency-Key" in response.json()["detail"]
            database.start()
            first = httpx.post(f"{base_url}/experiments", json=body, headers=key, timeout=30)
            again = httpx.post(f"{base_url}/experiments", json=body, headers=key, timeout=30)
            assert (first.status_code, again.status_code) == (202, 202)
            assert first.json()["id"] == again.json()["id"]
            listed = httpx.get(f"{base_url}/experiments").json()
            assert [e["name"] for e in listed["items"]] == ["during-outage"]


def test_run_delivered_while_postgres_is_down_is_retried_by_celery(
    redis_url: str, tmp_path: Path
) -> None:
    with private_postgres_env(redis_url, tmp_path) as (database, env):
        # The worker gives up its own retries after 1 s, and no timed re-send could help.
        env = {**env, "REGLAB_DB_RETRY_SECONDS": "1", "REGLAB_REQUEUE_AFTER_SECONDS": "3600"}
        base_url = f"http://127.0.0.1:{env['REGLAB_PORT']}"
        worker_log = tmp_path / "worker.log"
        with running(*service("api", env), tmp_path / "api.log"):
            wait_healthy(base_url)
            run_id = submit(base_url, tiny("delivered-into-an-outage"))
            database.stop()
            with running(*service("worker", env), worker_log):
                poll(lambda: "Retry in" in worker_log.read_text() or None, timeout=60)
                database.start()
                run = wait_terminal(base_url, run_id, timeout=120)
                assert (run["status"], run["attempts"]) == ("succeeded", 1), run
