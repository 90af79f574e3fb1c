"""GET /metrics: Prometheus's text format, HTTP requests by route template, the deployment's
figures read from the store, and who may read them."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

import api.reconciler
from api.auth import secret_key
from api.deps import get_session
from api.reconciler import Reconciler
from api.settings import get_settings
from models import store
from models.services.keys import create_key, create_project
from models.store.db import make_engine, make_sessionmaker
from models.store.tables import Run, RunStatus, utcnow
from tests.api.conftest import bearer, key_with
from tests.factories import create_run, make_spec, worker_record

# Label values (sorted by label name) -> value, by metric name.
Samples = dict[str, dict[tuple[str, ...], float]]
STATUSES = {"queued": 3, "running": 2, "succeeded": 4, "failed": 1, "cancelled": 1, "pruned": 0}


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    """GET /metrics, parsed by prometheus_client's own parser."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = tuple(sample.labels[k] for k in sorted(sample.labels))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def runs(sessions: sessionmaker[Any], statuses: dict[str, int], **sections: Any) -> list[int]:
    """Committed runs of the default project, `statuses[s]` of them in each status `s`."""
    ids = []
    with sessions.begin() as session:
        for status, count in statuses.items():
            for _ in range(count):
                run = create_run(session, make_spec(**sections))
                run.status = status
                ids.append(run.id)
    return ids


def test_run_gauges_equal_the_counts_the_api_lists(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    runs(sessions, STATUSES)
    gauge = scrape(client)["reglab_runs"]
    for status in RunStatus:
        listed = client.get("/runs", params={"filter": f"status = '{status}'", "limit": 1})
        assert gauge[(status,)] == listed.json()["total"] == STATUSES[status], status
    assert sum(gauge.values()) == client.get("/runs", params={"limit": 1}).json()["total"]


def test_the_gauges_count_every_project(client: TestClient, sessions: sessionmaker[Any]) -> None:
    [ours] = runs(sessions, {"queued": 1})
    [theirs] = runs(sessions, {"queued": 1})
    project = create_project(sessions, name="elsewhere")
    with sessions.begin() as session:
        session.execute(update(Run).where(Run.id == theirs).values(project_id=project))
    assert scrape(client)["reglab_runs"][("queued",)] == 2  # the deployment's
    assert [r["id"] for r in client.get("/runs").json()["items"]] == [ours]  # the project's


def test_queued_runs_per_queue_workers_and_speed(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    runs(sessions, {"queued": 2}, device="cuda")
    runs(sessions, {"queued": 1}, backend="tensorflow")
    [running] = runs(sessions, {"running": 1})
    with sessions.begin() as session:
        for pid, cuda in ((1, False), (2, True)):
            record = worker_record(pid=pid, cuda=cuda)
            store.register_worker(session=session, worker=record, live_seconds=60)
        epochs = {1: {"epoch_seconds": 1.0}, 2: {"epoch_seconds": 0.2}}
        store.record_epochs(session=session, run_id=running, epochs=epochs)
    samples = scrape(client)
    assert samples["reglab_queued_runs"] == {
        ("reglab.torch",): 0,
        ("reglab.torch.cuda",): 2,
        ("reglab.tensorflow",): 1,
        ("reglab.tensorflow.cuda",): 0,
    }
    assert samples["reglab_live_workers"] == {
        ("torch", "cpu"): 1,
        ("torch", "cuda"): 1,
        ("tensorflow", "cpu"): 0,
        ("tensorflow", "cuda"): 0,
    }
    assert samples["reglab_epochs_per_second"] == {(): 5.0}


def test_http_metrics_name_the_route_template_and_the_status_class(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    [run_id] = runs(sessions, {"queued": 1})

    def requests() -> dict[tuple[str, ...], float]:
        return scrape(client)["http_requests_total"]

    before = requests()
    assert client.get(f"/runs/{run_id}").status_code == 200
    assert client.get(f"/runs/{run_id + 1000}").status_code == 404
    after = requests()
    for status in ("2xx", "4xx"):
        labels = ("/runs/{run_id}", "GET", status)  # handler, method, status
        assert after[labels] - before.get(labels, 0) == 1, status
    assert not [labels for labels in after if str(run_id) in labels[0]]
    assert not [labels for labels in after if labels[0] == "/metrics"]  # scrapes not counted
    durations = scrape(client)["http_request_duration_seconds_count"]
    assert durations[("/runs/{run_id}", "GET")] >= 2


def test_metrics_need_the_metrics_scope_of_project_default(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    metrics_key = bearer(key_with(sessions, ["metrics"]))
    assert "reglab_runs" in scrape(client, metrics_key)
    assert client.get("/runs", headers=metrics_key).status_code == 403  # opens nothing else
    refused = client.get("/metrics", headers=bearer(key_with(sessions, ["read", "write"])))
    assert refused.status_code == 403
    assert "'metrics' scope" in refused.json()["detail"][0]["msg"]
    project = create_project(sessions, name="tenant")
    _, raw = create_key(
        sessions, project_id=project, name="t", scopes=["admin"], expires_at=None,
        secret_key=secret_key(), created_by=None,
    )  # fmt: skip
    tenant = client.get("/metrics", headers=bearer(raw))
    assert tenant.status_code == 403
    assert 'project "default"' in tenant.json()["detail"][0]["msg"]
    assert client.get("/metrics", headers={"Authorization": ""}).status_code == 401


def test_metrics_can_be_public_on_an_internal_network(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous = {"Authorization": ""}
    assert client.get("/metrics", headers=anonymous).status_code == 401
    monkeypatch.setattr(get_settings(), "metrics_public", True)
    assert "reglab_runs" in scrape(client, anonymous)
    assert client.get("/runs", headers=anonymous).status_code == 401  # only /metrics opens


def test_reconciler_totals_are_the_deployments(
    client: TestClient, sessions: sessionmaker[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store_of: dict[str, Callable[[], Any]] = {"now": lambda: sessions}
    monkeypatch.setattr(api.reconciler, "get_sessionmaker", lambda: store_of["now"]())
    monkeypatch.setattr(api.reconciler, "reconcile", lambda *args, **kwargs: 2)
    first, second = Reconciler(), Reconciler()  # two API processes
    first.run_once()
    second.run_once()
    unreachable = make_sessionmaker(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    store_of["now"] = lambda: unreachable
    second.failed()  # the store is down: kept until it answers
    second.run_once()
    assert scrape(client)["reglab_reconciler_failures_total"] == {(): 0}
    store_of["now"] = lambda: sessions
    before = utcnow().timestamp()
    second.run_once()
    samples = scrape(client)
    assert samples["reglab_reconciler_passes_total"] == {(): 4}
    assert samples["reglab_reconciler_failures_total"] == {(): 1}
    assert samples["reglab_reconciler_runs_sent_total"] == {(): 8}
    assert samples["reglab_reconciler_last_pass_timestamp_seconds"][()] >= before
    assert (first.passes, second.passes) == (1, 3)  # /health's, this process's own


def test_a_scrape_while_the_store_is_away_still_brings_the_process_figures(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "metrics_public", True)  # no key to look up
    assert scrape(client)["reglab_store_up"] == {(): 1}
    unreachable = make_sessionmaker(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))

    def away() -> Iterator[Session]:
        with unreachable() as session:
            yield session

    monkeypatch.setitem(client.app.dependency_overrides, get_session, away)  # type: ignore[attr-defined]
    samples = scrape(client, {"Authorization": ""})
    assert samples["reglab_store_up"] == {(): 0}
    assert "reglab_runs" not in samples
    assert samples["process_cpu_seconds_total"][()] > 0
