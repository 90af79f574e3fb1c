"""Admin routes: an admin key manages its own project's keys and opens new projects; secrets
are shown once; another project's keys answer 404."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from models.store.tables import DEFAULT_PROJECT_ID
from tests.api.conftest import bearer, client_on, key_with
from tests.factories import spec_dict


def test_a_new_project_comes_with_its_first_admin_key_and_is_sealed(client: TestClient) -> None:
    made = client.post("/admin/projects", json={"name": "vision"})
    assert made.status_code == 201, made.text
    assert made.headers["Cache-Control"] == "no-store"
    project = made.json()
    first = project["admin_key"]
    assert project["name"] == "vision" and first["project_id"] == project["id"]
    assert first["key"].startswith(f"rl_{first['key_id']}_")
    assert first["scopes"] == ["read", "write", "admin"]
    theirs = bearer(first["key"])
    experiment = client.post(
        "/experiments", json={"name": "v", "spec": spec_dict()}, headers=theirs
    )
    assert experiment.status_code == 202
    assert client.get(f"/experiments/{experiment.json()['id']}").status_code == 404  # sealed
    # Each admin sees and revokes only its own project's keys.
    assert [k["key_id"] for k in client.get("/admin/keys", headers=theirs).json()] == [
        first["key_id"]
    ]
    assert first["key_id"] not in {k["key_id"] for k in client.get("/admin/keys").json()}
    assert client.post(f"/admin/keys/{first['key_id']}/revoke").status_code == 404
    assert client.get("/experiments", headers=theirs).status_code == 200  # still works
    # Only operators (admin keys of project "default") see and open projects.
    assert "vision" in [p["name"] for p in client.get("/admin/projects").json()]
    for refused in (
        client.get("/admin/projects", headers=theirs),
        client.post("/admin/projects", json={"name": "more"}, headers=theirs),
        client.post("/admin/projects", json={"name": "vision"}, headers=theirs),  # no name leak
    ):
        assert refused.status_code == 403, refused.text
        assert 'project "default"' in refused.json()["detail"][0]["msg"]


def test_an_admin_makes_keys_of_its_own_project_only(client: TestClient) -> None:
    opened = client.post("/admin/projects", json={"name": "other"}).json()
    body = {"name": "ci", "scopes": ["write"], "expires_in_days": 30}
    response = client.post("/admin/keys", json=body, headers=bearer(opened["admin_key"]["key"]))
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    key = response.json()
    assert (key["project_id"], key["scopes"]) == (opened["id"], ["write"])
    assert key["expires_at"] is not None
    listed = client.get("/admin/keys", headers=bearer(key["key"]))
    assert listed.status_code == 403  # a write key is no admin
    mine = client.get("/admin/keys", headers=bearer(opened["admin_key"]["key"])).json()
    assert [k["key_id"] for k in mine] == [opened["admin_key"]["key_id"], key["key_id"]]
    assert all("key" not in k and "secret_hmac" not in k for k in mine)
    # A body naming another project is not a way in: the field does not exist.
    body_with_project = {**body, "project_id": DEFAULT_PROJECT_ID}
    refused = client.post("/admin/keys", json=body_with_project, headers=bearer(key["key"]))
    assert refused.status_code == 403
    refused = client.post(
        "/admin/keys", json=body_with_project, headers=bearer(opened["admin_key"]["key"])
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == [
        "body",
        "project_id",
    ]


def test_a_revoked_key_is_refused_from_then_on(client: TestClient) -> None:
    key = client.post("/admin/keys", json={"name": "leaked", "scopes": ["read"]}).json()
    assert key["project_id"] == DEFAULT_PROJECT_ID
    assert client.get("/experiments", headers=bearer(key["key"])).status_code == 200
    revoked = client.post(f"/admin/keys/{key['key_id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/experiments", headers=bearer(key["key"])).status_code == 401


def test_admin_refusals_name_the_field(client: TestClient) -> None:
    client.post("/admin/projects", json={"name": "twice"})
    again = client.post("/admin/projects", json={"name": "twice"})
    assert again.status_code == 409 and again.json()["detail"][0]["loc"] == ["body", "name"]
    bad = client.post("/admin/keys", json={"name": "x", "scopes": ["root"]})
    assert bad.status_code == 422
    assert client.post("/admin/keys/0123456789ab/revoke").status_code == 404


def test_a_write_key_cannot_administer(client: TestClient, sessions: sessionmaker[Any]) -> None:
    raw = key_with(sessions, ["write"])
    response = client.post("/admin/projects", json={"name": "mine"}, headers=bearer(raw))
    assert response.status_code == 403
    assert "'admin' scope" in response.json()["detail"][0]["msg"]


def test_keys_made_by_an_expiring_key_expire_with_it(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    expires_at = datetime.now(UTC) + timedelta(days=7)
    raw = key_with(sessions, ["admin"], expires_at=expires_at)
    for body in ({"name": "forever"}, {"name": "a year", "expires_in_days": 365}):
        made = client.post("/admin/keys", json={**body, "scopes": ["read"]}, headers=bearer(raw))
        assert made.status_code == 201, made.text
        assert datetime.fromisoformat(made.json()["expires_at"]) == expires_at
    opened = client.post("/admin/projects", json={"name": "side"}, headers=bearer(raw))
    assert datetime.fromisoformat(opened.json()["admin_key"]["expires_at"]) == expires_at
    sooner = client.post(
        "/admin/keys", json={"name": "a day", "scopes": ["read"], "expires_in_days": 1},
        headers=bearer(raw),
    )  # fmt: skip
    assert datetime.fromisoformat(sooner.json()["expires_at"]) < expires_at


def test_every_accepted_key_is_recorded_as_used_whatever_the_answer(
    fresh_sessions: sessionmaker[Any],
) -> None:
    # A database of its own: the write commits for real, as in a deployment.
    with client_on(fresh_sessions) as client:
        for name, scopes, request in (
            ("found", ["read"], ("GET", "/experiments")),
            ("missing", ["read"], ("GET", "/runs/999999")),
            ("refused", ["read"], ("POST", "/runs/1/cancel")),
            ("invalid", ["write"], ("POST", "/experiments")),
        ):
            made = client.post("/admin/keys", json={"name": name, "scopes": scopes}).json()
            response = client.request(*request, headers=bearer(made["key"]), json={})
            assert response.status_code in (200, 403, 404, 422), response.text
            listed = {k["name"]: k for k in client.get("/admin/keys").json()}
            assert listed[name]["last_used_at"] is not None, (name, response.status_code)
