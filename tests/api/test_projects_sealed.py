"""Projects are sealed: another project's objects answer 404 on every route that takes an
id, exactly like missing ones, and never appear in lists, filters, compares or reports."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.auth import PUBLIC_PATHS, secret_key
from api.main import app
from models import store
from models.services.keys import create_key, create_project
from models.store.tables import DEFAULT_PROJECT_ID, Artifact
from tests.api.conftest import client_on
from tests.api.uploads import csv_bytes, upload
from tests.factories import spec_dict


@dataclass(frozen=True)
class Objects:
    """One project's objects of every kind."""

    experiment: int
    run: int
    dataset: int
    key: str  # the owning project's (an admin key)

    def owner(self) -> dict[str, str]:
        """Headers that act as the owning project."""
        return {"Authorization": f"Bearer {self.key}"}

    def path_values(self) -> dict[str, str]:
        return {
            "experiment_id": str(self.experiment),
            "run_id": str(self.run),
            "dataset_id": str(self.dataset),
            "name": "model.json",
            "key_id": self.key[3:15],
        }


def query_params(dependant: Dependant) -> list[tuple[str, bool]]:
    """(name, required) of the query parameters of a route and of its dependencies."""
    found = [(p.name, p.field_info.is_required()) for p in dependant.query_params]
    return found + [q for sub in dependant.dependencies for q in query_params(sub)]


def path_params(dependant: Dependant) -> list[str]:
    """The path parameters of a route and of its dependencies (an event stream reads its id in
    the dependency that opens the stream, so that a refusal comes before the stream starts)."""
    found = [p.name for p in dependant.path_params]
    return found + [n for sub in dependant.dependencies for n in path_params(sub)]


def id_operations() -> list[tuple[str, str, dict[str, bool]]]:
    """(method, path, id query parameters: required?) of every operation taking ids."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path in PUBLIC_PATHS:
            continue
        ids = {n: req for n, req in query_params(route.dependant) if n.endswith(("_id", "_ids"))}
        if path_params(route.dependant) or ids:
            found += [(m, str(context.path), ids) for m in sorted(context.methods or ())]
    return found


def takes_body(method: str, path: str) -> bool:
    """Whether the operation reads a JSON body."""
    contexts = iter_route_contexts(app.routes)
    routes = [c.original_route for c in contexts if c.path == path and method in (c.methods or ())]
    return any(isinstance(r, APIRoute) and r.dependant.body_params for r in routes)


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    return path


def objects_of(client: TestClient, sessions: sessionmaker[Any], key: str) -> Objects:
    """An experiment with a run (with curves and an artifact) and a dataset, through `client`."""
    experiment = client.post("/experiments", json={"name": "theirs", "spec": spec_dict()}).json()
    run_id = experiment["runs"][0]["id"]
    dataset = upload(client, "their-data", "csv", csv_bytes(seed=3), label="species").json()
    with sessions.begin() as session:
        store.record_epochs(session=session, run_id=run_id, epochs={1: {"train_loss": 0.5}})
        session.add(Artifact(run_id=run_id, name="model.json", sha256="0" * 64, bytes=2,
                             media_type="application/json"))  # fmt: skip
    return Objects(experiment["id"], run_id, dataset["id"], key)


@pytest.fixture
def theirs(sessions: sessionmaker[Any]) -> Iterator[Objects]:
    """Project B's objects, made with B's own key."""
    project_b = create_project(sessions, name="project-b")
    _, raw = create_key(
        sessions, project_id=project_b, name="b", scopes=["admin"], expires_at=None,
        secret_key=secret_key(), created_by=None,
    )  # fmt: skip
    with client_on(sessions) as client:
        client.headers["Authorization"] = f"Bearer {raw}"
        yield objects_of(client, sessions, raw)


def test_the_route_table_has_id_routes() -> None:
    paths = {path for _, path, _ in id_operations()}
    assert {
        "/runs/{run_id}",
        "/datasets/{dataset_id}",
        "/compare",
        "/runs/{run_id}/events",
    } <= paths
    assert "/admin/keys/{key_id}/revoke" in paths


@pytest.mark.parametrize(("method", "path", "ids"), id_operations())
def test_another_projects_ids_are_never_found(
    client: TestClient, theirs: Objects, method: str, path: str, ids: dict[str, bool]
) -> None:
    """Named in a path or a required list: 404. As an optional filter: nothing listed."""
    mine = client.post("/experiments", json={"name": "mine", "spec": spec_dict()}).json()
    samples = {
        "run_ids": f"{mine['runs'][0]['id']},{theirs.run}",  # one of them is enough
        "experiment_id": str(theirs.experiment),
        "x": "regularization.dropout",
    }
    query = {name: samples[name] for name in [*ids, "x"] if name in samples}
    body: dict[str, Any] = {"json": {}} if takes_body(method, path) else {}
    response = client.request(method, fill(path, theirs.path_values()), params=query, **body)
    if "{" in path or any(ids.values()):
        assert response.status_code == 404, (method, path, response.text)
    else:
        assert (response.status_code, response.json()["items"]) == (200, []), (method, path)
    # and nothing of theirs changed (their key still works: it was not revoked)
    assert client.get(f"/runs/{theirs.run}", headers=theirs.owner()).json()["status"] == "queued"
    assert client.get(f"/datasets/{theirs.dataset}", headers=theirs.owner()).status_code == 200


def test_another_projects_objects_stay_out_of_lists(client: TestClient, theirs: Objects) -> None:
    mine = client.post("/experiments", json={"name": "mine", "spec": spec_dict()}).json()
    listed = {
        "experiments": [e["id"] for e in client.get("/experiments").json()["items"]],
        "runs": [r["id"] for r in client.get("/runs").json()["items"]],
        "datasets": [d["id"] for d in client.get("/datasets").json()["items"]],
        "keys": {k["project_id"] for k in client.get("/admin/keys").json()},
    }
    assert listed == {
        "experiments": [mine["id"]],
        "runs": [mine["runs"][0]["id"]],
        "datasets": [],
        "keys": {DEFAULT_PROJECT_ID},
    }
    for where in (f"id = {theirs.run}", f"experiment = {theirs.experiment}"):
        assert client.get("/runs", params={"filter": where}).json()["items"] == []
    both = f"{mine['runs'][0]['id']},{theirs.run}"
    assert client.get("/compare", params={"run_ids": both}).status_code == 404


def test_a_spec_cannot_train_on_another_projects_dataset(
    client: TestClient, theirs: Objects
) -> None:
    named = spec_dict(dataset={"name": "their-data"})
    response = client.post("/experiments", json={"name": "borrow", "spec": named})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][:3] == ["body", "spec", "dataset"]
    assert "not uploaded to this project" in error["msg"]
    search = {"space": {"dataset.name": ["moons", "their-data"]}}
    response = client.post(
        "/experiments", json={"name": "b", "spec": spec_dict(), "search": search}
    )
    assert response.status_code == 422, response.text
    assert "their-data" in response.text
    assert client.get("/experiments").json()["items"] == []  # nothing half-made
