"""docker-compose.yml kept honest: its migrate, api, worker and flower commands, with their
environment, run here against local Postgres and Redis, and train the README example;
Prometheus's configuration scrapes what the services serve, as they serve it."""

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client.parser import text_string_to_metric_families

from api.main import app
from api.settings import Settings
from tests.conftest import ROOT
from tests.factories import spec_dict
from tests.integration.compose import (
    COMPOSE,
    PROMETHEUS,
    TEST_SECRETS,
    compose_env,
    env_file,
    make_key,
    migrated_stack,
    service,
)
from tests.integration.stack import (
    TINY,
    api_client,
    assert_stack_serves,
    free_port,
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
    published = {name: spec["ports"] for name, spec in services.items() if "ports" in spec}
    assert published.pop("api") == ["8000:8000"]
    # Flower and Prometheus: on the Docker host's loopback only (an SSH tunnel from elsewhere).
    assert sorted(published) == ["flower", "prometheus"]
    assert all(port.startswith("127.0.0.1:") for ports in published.values() for port in ports)
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


def _option(command: list[str], name: str) -> str:
    """The value of `--name=value` in a command line."""
    [value] = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}=")]
    return value


def _jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}


def test_prometheus_scrapes_the_api_and_flower_where_compose_serves_them() -> None:
    services = COMPOSE["services"]
    prometheus, flower = services["prometheus"], services["flower"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    reglab = _jobs()["reglab"]
    variables = {**env_file(ROOT / ".env.example"), **TEST_SECRETS}
    api_env = compose_env("api", variables)
    assert reglab["static_configs"] == [{"targets": [f"api:{api_env['REGLAB_PORT']}"]}]
    assert "api" in Settings(allowed_hosts=api_env["REGLAB_ALLOWED_HOSTS"]).allowed_host_list()
    served = [
        sorted(context.methods or ())
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path == reglab["metrics_path"]
    ]
    assert served == [["GET"]]
    # The key: a compose secret, mounted where the job reads it; its file never committed.
    [secret] = prometheus["secrets"]
    assert reglab["authorization"] == {
        "type": "Bearer",
        "credentials_file": f"/run/secrets/{secret}",
    }
    folder = Path(COMPOSE["secrets"][secret]["file"]).parent.name
    assert f"{folder}/" in (ROOT / ".gitignore").read_text().splitlines()
    assert folder in (ROOT / ".dockerignore").read_text().splitlines()
    port = _option(flower["command"], "--port")
    assert _jobs()["flower"]["static_configs"] == [{"targets": [f"flower:{port}"]}]
    assert set(flower["environment"]) == {"REGLAB_BROKER_URL"}  # the broker, not the store


def _samples(text: str) -> dict[str, dict[tuple[str, ...], float]]:
    """Samples by metric name, then by label values (sorted by label name)."""
    found: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sample.labels[k] for k in sorted(sample.labels))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def _scrape_as_prometheus(base_url: str, key_file: Path) -> dict[str, Any]:
    """GET the reglab job's path as Prometheus does: its key read from the file, its Host."""
    job = _jobs()["reglab"]
    headers = {
        "Authorization": f"Bearer {key_file.read_text().strip()}",
        "Host": job["static_configs"][0]["targets"][0],
    }
    response = httpx.get(f"{base_url}{job['metrics_path']}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return _samples(response.text)


def test_flower_and_prometheus_watch_the_compose_services(redis_url: str, tmp_path: Path) -> None:
    with migrated_stack(redis_url, tmp_path) as (local, key):
        # The README's step: a metrics key of project default into the compose secret's file.
        key_file = tmp_path / "metrics_key"
        options = ("--project", "default", "--scopes", "metrics", "--name", "prometheus")
        key_file.write_text(make_key(local, *options) + "\n")
        flower_command, flower_env = service(
            "flower", {"REGLAB_BROKER_URL": redis_url, "REGLAB_HOME": str(tmp_path)}
        )
        flower_port = free_port()
        port_option = f"--port={_option(flower_command, '--port')}"
        flower_command[flower_command.index(port_option)] = f"--port={flower_port}"
        flower_url = f"http://127.0.0.1:{flower_port}"
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"
        with (
            running(flower_command, flower_env, tmp_path / "flower.log"),
            running(*service("worker", local), tmp_path / "worker.log"),
            running(*service("api", local), tmp_path / "api.log"),
            api_client(base_url, key) as api,
        ):
            wait_healthy(base_url)
            run_id = submit(api, TINY)
            assert wait_terminal(api, run_id, timeout=120)["status"] == "succeeded"
            runs = _scrape_as_prometheus(base_url, key_file)["reglab_runs"]
            assert runs[("succeeded",)] == 1 and sum(runs.values()) == 1
            assert api.get("/runs").json()["total"] == 1

            def task_succeeded() -> float | None:
                try:
                    text = httpx.get(f"{flower_url}/metrics", timeout=5).text
                except httpx.HTTPError:
                    return None
                events = _samples(text).get("flower_events_total", {})
                # Labels task, type, worker: every worker's succeeded reglab runs.
                wanted = ("reglab.train_run", "task-succeeded")
                return sum(v for labels, v in events.items() if labels[:2] == wanted) or None

            # The worker's task events (-E) reached Flower through Redis.
            assert poll(task_succeeded, timeout=60, interval=0.5) >= 1
            assert httpx.get(f"{flower_url}/healthcheck", timeout=5).text == "OK"
            assert httpx.get(f"{flower_url}/", timeout=5).status_code == 200
