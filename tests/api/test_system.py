"""Datasets, health, the offline docs page and the import boundary of the API."""

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT


def test_datasets_list_shapes_and_classes(client: TestClient) -> None:
    datasets = {d["name"]: d for d in client.get("/datasets").json()}
    assert set(datasets) == {"digits", "moons", "circles", "blobs", "classification"}
    assert datasets["digits"]["input_shape"] == [8, 8]
    assert datasets["digits"]["n_classes"] == 10
    assert datasets["blobs"]["params"]["n_classes"] == 3


def test_health_reports_store_and_broker(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    reconciler = body.pop("reconciler")
    assert body == {"status": "ok", "database": True, "broker": True}
    assert set(reconciler) == {"passes", "runs_sent", "last_pass_at"}  # off in tests: 0 passes


def test_docs_page_needs_no_internet(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "cdn.jsdelivr" not in page and "unpkg" not in page
    script = page.split('src="')[1].split('"')[0]
    assert client.get(script).status_code == 200
    schema = client.get("/openapi.json").json()
    spec_schema = schema["components"]["schemas"]["ExperimentSpec"]
    assert "example" in spec_schema


@pytest.mark.parametrize(
    "modules", ["api.main", "workers.celery_app, workers.tasks"], ids=["api", "worker-parent"]
)
def test_processes_that_fork_or_serve_import_no_framework(modules: str) -> None:
    code = (
        f"import sys, {modules}; "
        "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
