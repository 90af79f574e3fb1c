"""schemathesis over every operation of /openapi.json, against a real API and worker.

Each operation gets schema examples, boundary cases and fuzzed requests, valid and invalid;
every answer must be a non-5xx status the document declares, with a declared content type
and a body that matches the declared schema. Seeded objects (a finished run, a search, a run
no worker serves) are offered as ids half of the time, so routes are fuzzed on real objects
as well as on missing ones.
"""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.stack import (
    api_client,
    bootstrap_key,
    free_port,
    poll,
    process_env,
    running,
    submit,
    wait_healthy,
    wait_terminal,
)

pytestmark = pytest.mark.integration
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "ignored_auth",  # each operation, sent without the key or with a wrong one, is refused
    # Ours, from tests/integration/schema_checks.py:
    "body_is_declared",
    "EveryOperationReachesObjects",
]
HOOKS = "tests.integration.schema_checks"
MAX_EXAMPLES = 20  # per operation and phase: a few minutes for the whole API on two cores
SMALL = {"dataset": {"name": "moons", "n_samples": 300}, "training": {"epochs": 2}}
SEEDED_FILTERS = [
    "status = 'succeeded' and summary.test_acc > 0.5",
    "spec.regularization.dropout in (0.0, 0.3) or spec.backend = 'tensorflow'",
    "not (experiment = 1) and epochs_done >= 0",
]


def _seed_dataset(api: httpx.Client) -> int:
    """An uploaded dataset version, to offer as `dataset_id`."""
    response = api.post(
        "/datasets",
        params={"name": "seeded", "format": "csv"},
        content=b"a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n",
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _seed_admin(api: httpx.Client) -> dict[str, list[Any]]:
    """A spare key of the stack's project, to revoke."""
    # Never the stack's own key: the fuzzer sends it on every request, revoked it would 401.
    spare = api.post("/admin/keys", json={"name": "spare", "scopes": ["read"]}, timeout=10)
    assert spare.status_code == 201, spare.text
    return {"key_ids": [spare.json()["key_id"]]}


def _seed(api: httpx.Client) -> dict[str, list[Any]]:
    """A finished run, a finished two-run grid, a queued Keras run, an uploaded dataset and
    admin objects: ids to offer the fuzzer."""
    finished = submit(api, {"name": "seed", "spec": SMALL})
    grid = {
        "name": "grid",
        "spec": SMALL,
        "search": {"space": {"regularization.dropout": [0.0, 0.3]}, "max_parallel": 1},
    }
    response = api.post("/experiments", json=grid, timeout=30)
    assert response.status_code == 202, response.text
    queued = submit(api, {"name": "no keras worker", "spec": {**SMALL, "backend": "tensorflow"}})
    assert wait_terminal(api, finished, timeout=180)["status"] == "succeeded"

    def grid_done() -> bool | None:
        read = api.get(response.headers["location"], timeout=10).json()
        return read["progress"]["succeeded"] == 2 or None

    poll(grid_done, timeout=180, interval=0.2)
    runs = api.get("/runs", params={"limit": 500}, timeout=10).json()["items"]
    run_ids = sorted(run["id"] for run in runs)
    assert len(run_ids) == 4 and queued in run_ids, runs
    ended = [run_id for run_id in run_ids if run_id != queued]
    return {
        "dataset_ids": [_seed_dataset(api)],
        "run_ids": run_ids,
        "experiment_ids": sorted({run["experiment_id"] for run in runs}),
        "compared": [",".join(map(str, ended)), f"{ended[-1]},{queued}"],
        "filters": SEEDED_FILTERS,
        **_seed_admin(api),
    }


def _config(seeded: dict[str, list[Any]]) -> str:
    """schemathesis.toml: bounded examples, the seeded values offered to the parameters."""
    offered = {
        "path.run_id": "run_ids",
        "path.dataset_id": "dataset_ids",
        "path.experiment_id": "experiment_ids",
        "query.experiment_id": "experiment_ids",
        "query.run_ids": "compared",
        "query.filter": "filters",
        "path.key_id": "key_ids",
    }
    lines = [
        f"generation.max-examples = {MAX_EXAMPLES}",
        # An event stream is read up to its first event: a queued run's would last forever.
        "max-stream-events = 1",
        "[parameters]",
        *(
            f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}'
            for key, name in offered.items()
        ),
        *(
            f"[dictionaries.{name}]\nvalues = {json.dumps(values)}"
            for name, values in seeded.items()
        ),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    """A migrated embedded store, the API and a torch-only worker, seeded: a client and folder."""
    root: Path = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = process_env(
        {
            "REGLAB_HOME": str(root / "home"),
            "REGLAB_PORT": str(port),
            "REGLAB_BACKENDS": "torch",  # a Keras run stays queued, waiting for a worker
            "REGLAB_CONCURRENCY": "1",
            "REGLAB_THREADS_PER_RUN": "1",
        }
    )
    subprocess.run(
        ["alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    worker = ["nice", "-n", "19", "celery", "-A", "workers.celery_app", "worker", "-l", "INFO"]
    base_url = f"http://127.0.0.1:{port}"
    with (
        running(["python", "-m", "api"], env, root / "api.log"),
        running(worker, env, root / "worker.log"),
        api_client(base_url, bootstrap_key(env)) as api,
    ):
        wait_healthy(base_url)
        (root / "schemathesis.toml").write_text(_config(_seed(api)))
        yield api, root
        # Still serving after the fuzzing: nothing it sent took a process down.
        wait_healthy(base_url, timeout=30)


def test_every_operation_answers_as_documented(stack: tuple[httpx.Client, Path]) -> None:
    api, root = stack
    report = root / "report.json"
    options = {
        "--checks": ",".join(CHECKS),
        "--workers": "1",  # one request at a time: CI machines have two cores
        "--request-timeout": "30",
        "--generation-database": "none",
        "--report": "json",
        "--report-json-path": str(report),
    }
    command = ["schemathesis", "--config-file", str(root / "schemathesis.toml"), "run"]
    command += [
        *(part for option in options.items() for part in option),
        # Every request, valid or not, carries the stack's admin key.
        *("--header", f"Authorization: {api.headers['Authorization']}"),
        str(api.base_url.join("/openapi.json")),
    ]
    env = process_env({"PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": HOOKS})
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
    run = json.loads(report.read_text())
    document = api.get("/openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in document["paths"].values())
    assert run["operations"]["tested"] == operations == run["operations"]["total"], run
    assert run["test_cases"]["generated"] >= 10 * operations, run["test_cases"]
    print(  # the figures for the record, with `pytest -s`
        f"schemathesis: {operations} operations, {run['test_cases']['generated']} cases, "
        f"{run['running_time']:.0f} s, seed {run['seed']}"
    )
