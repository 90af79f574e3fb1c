"""Admin routes: projects and keys over HTTP, for admin keys only; secrets shown once."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.auth import secret_key
from models.services.keys import create_key
from models.store.tables import DEFAULT_PROJECT_ID
from tests.factories import spec_dict


def test_an_admin_makes_a_project_and_a_key_that_acts_only_there(client: TestClient) -> None:
    made = client.post("/admin/projects", json={"name": "vision"})
    assert made.status_code == 201, made.text
    project = made.json()
    assert project["name"] == "vision" and project in client.get("/admin/projects").json()
    body = {"project_id": project["id"], "name": "ci", "scopes": ["write"], "expires_in_days": 30}
    response = client.post("/admin/keys", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    key = response.json()
    assert key["key"].startswith(f"rl_{key['key_id']}_") and key["scopes"] == ["write"]
    theirs = {"Authorization": f"Bearer {key['key']}"}
    experiment = client.post(
        "/experiments", json={"name": "v", "spec": spec_dict()}, headers=theirs
    )
    assert experiment.status_code == 202
    assert client.get(f"/experiments/{experiment.json()['id']}").status_code == 404  # sealed
    listed = client.get("/admin/keys", params={"project_id": project["id"]}).json()
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert all("key" not in k and "secret_hmac" not in k for k in listed)
    assert client.get("/admin/projects", headers=theirs).status_code == 403  # not an admin


def test_a_revoked_key_is_refused_from_then_on(client: TestClient) -> None:
    body = {"project_id": DEFAULT_PROJECT_ID, "name": "leaked", "scopes": ["read"]}
    key = client.post("/admin/keys", json=body).json()
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert client.get("/experiments", headers=headers).status_code == 200
    revoked = client.post(f"/admin/keys/{key['key_id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/experiments", headers=headers).status_code == 401


def test_admin_refusals_name_the_field(client: TestClient) -> None:
    client.post("/admin/projects", json={"name": "twice"})
    again = client.post("/admin/projects", json={"name": "twice"})
    assert again.status_code == 409 and again.json()["detail"][0]["loc"] == ["body", "name"]
    missing = client.post("/admin/keys", json={"project_id": 999, "name": "x", "scopes": ["read"]})
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["loc"] == ["body", "project_id"]
    bad = client.post("/admin/keys", json={"project_id": 1, "name": "x", "scopes": ["root"]})
    assert bad.status_code == 422
    assert client.post("/admin/keys/0123456789ab/revoke").status_code == 404


def test_a_write_key_cannot_administer(client: TestClient, sessions: sessionmaker[Any]) -> None:
    _, raw = create_key(
        sessions,
        project_id=DEFAULT_PROJECT_ID,
        name="w",
        scopes=["write"],
        expires_at=None,
        secret_key=secret_key(),
        created_by=None,
    )
    headers = {"Authorization": f"Bearer {raw}"}
    response = client.post("/admin/projects", json={"name": "mine"}, headers=headers)
    assert response.status_code == 403
    assert "'admin' scope" in response.json()["detail"][0]["msg"]
