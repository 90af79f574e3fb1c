"""Health, the offline docs page and the import boundary of the API."""

import subprocess
import sys
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.reconciler import RECONCILER
from api.settings import get_settings
from models.store.tables import utcnow
from tests.conftest import ROOT


def test_health_reports_store_and_broker(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    reconciler = body.pop("reconciler")
    assert body == {"status": "ok", "database": True, "broker": True, "workers": 0}
    assert set(reconciler) == {"passes", "runs_sent", "last_pass_at", "stale"}
    assert reconciler["stale"] is False  # off in tests: never stale


def test_health_reports_a_stale_reconciler(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "reconcile_seconds", 1.0)
    monkeypatch.setattr(RECONCILER, "started_at", utcnow() - timedelta(seconds=10))
    monkeypatch.setattr(RECONCILER, "last_pass_at", None)
    stale = client.get("/health")
    assert stale.status_code == 503
    assert stale.json()["status"] == "degraded" and stale.json()["reconciler"]["stale"] is True
    monkeypatch.setattr(RECONCILER, "last_pass_at", utcnow() - timedelta(seconds=2))
    assert client.get("/health").json()["reconciler"]["stale"] is False  # within 3 intervals
    monkeypatch.setattr(RECONCILER, "last_pass_at", utcnow() - timedelta(seconds=4))
    assert client.get("/health").status_code == 503


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
