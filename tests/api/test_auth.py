"""Closed by default: every route but the public ones needs a key, with the right scope; a
browser cannot be made to act (bearer keys only, known Host names, no CORS unless set)."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.auth import PUBLIC_PATHS
from api.main import app
from models.services.keys import revoke
from tests.api.conftest import bearer, client_on, key_with
from tests.factories import spec_dict

SAMPLE_PARAMS = {"name": "model.json", "key_id": "0123456789ab"}


def operations() -> list[tuple[str, str]]:
    """(method, path) of every API operation that is not public, read off the app."""
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.path not in PUBLIC_PATHS:
            found += [(method, str(context.path)) for method in sorted(context.methods or ())]
    return found


def concrete(path: str) -> str:
    """`path` with every parameter filled by a value that passes its own validation."""
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS.get(m[1], "1"), path)


@pytest.fixture
def anonymous(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """A client that sends no key."""
    with client_on(sessions) as client:
        del client.headers["Authorization"]
        yield client


def test_every_route_is_an_api_route_or_a_known_mount() -> None:
    # Keys are checked by a FastAPI dependency: a plain Starlette route or a mount would be
    # open, so each one must be known here (scripts, styles and the docs page's own files).
    others = {
        (type(context.original_route).__name__, str(context.path))
        for context in iter_route_contexts(app.routes)
        if not isinstance(context.original_route, APIRoute)
    }
    assert others == {
        ("Mount", "/ui/static"),
        ("Route", "/openapi.json"),
        ("Mount", "/static-offline-docs"),
    }


def test_the_route_table_is_read_whole() -> None:
    found = operations()
    assert ("POST", "/experiments") in found and ("GET", "/runs/{run_id}/artifacts") in found
    assert len(found) >= 19


@pytest.mark.parametrize(("method", "path"), operations())
def test_every_operation_but_the_public_ones_needs_a_key(
    anonymous: TestClient, method: str, path: str
) -> None:
    body: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    response = anonymous.request(method, concrete(path), follow_redirects=False, **body)
    if path.startswith("/ui/"):  # a page of the browser view: to the sign-in form instead
        assert response.status_code == 303, (method, path, response.text)
        assert response.headers["location"].startswith("/ui/login?next=")
        return
    assert response.status_code == 401, (method, path, response.text)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    [error] = response.json()["detail"]
    assert error["loc"] == ["header", "Authorization"]


def test_public_routes_answer_without_a_key(anonymous: TestClient) -> None:
    assert anonymous.get("/health").status_code in (200, 503)
    assert anonymous.get("/docs").status_code == 200
    schema = anonymous.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert schema["paths"]["/experiments"]["post"]["security"] == [{"ApiKey": []}]
    assert "security" not in schema["paths"]["/health"]["get"]
    assert "401" in schema["paths"]["/experiments"]["post"]["responses"]


def test_a_key_in_the_query_string_is_not_a_key(
    anonymous: TestClient, sessions: sessionmaker[Any]
) -> None:
    raw = key_with(sessions, ["read"])
    assert anonymous.get("/experiments", params={"api_key": raw}).status_code == 401
    assert anonymous.get("/experiments", headers=bearer(raw)).status_code == 200


def test_expired_revoked_and_malformed_keys_get_401(
    anonymous: TestClient, sessions: sessionmaker[Any]
) -> None:
    expired = key_with(sessions, ["read"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    revoked = key_with(sessions, ["read"])
    revoke(sessions, key_id=revoked.split("_")[1], now=datetime.now(UTC))
    tampered = key_with(sessions, ["read"])[:-2] + "xx"
    for raw in (expired, revoked, tampered, "rl_nope", "Basic abc"):
        response = anonymous.get("/experiments", headers=bearer(raw))
        assert response.status_code == 401, raw
        assert response.json()["detail"][0]["msg"] == "the API key is unknown, expired or revoked"


def test_a_read_only_key_gets_403_on_writes(
    anonymous: TestClient, sessions: sessionmaker[Any]
) -> None:
    reader = bearer(key_with(sessions, ["read"]))
    assert anonymous.get("/experiments", headers=reader).status_code == 200
    body = {"name": "x", "spec": spec_dict()}
    response = anonymous.post("/experiments", json=body, headers=reader)
    assert response.status_code == 403
    assert response.json()["detail"][0]["msg"] == (
        "this route needs the 'write' scope; the key has read"
    )
    assert anonymous.post("/runs/1/cancel", headers=reader).status_code == 403


def test_a_cross_site_form_cannot_cancel_a_run(client: TestClient) -> None:
    run_id = client.post("/experiments", json={"name": "x", "spec": spec_dict()}).json()["runs"][0][
        "id"
    ]
    form = {"confirm": "yes"}
    foreign = {"Origin": "https://evil.example", "Authorization": ""}
    response = client.post(f"/runs/{run_id}/cancel", data=form, headers=foreign)
    assert response.status_code == 401
    read = client.get(f"/runs/{run_id}")
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "queued"


def test_a_foreign_host_is_refused(client: TestClient) -> None:
    assert client.get("/health", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/experiments", headers={"Host": "evil.example"}).status_code == 400


def test_cors_is_off_unless_origins_are_configured(client: TestClient) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    response = client.options("/experiments", headers=preflight)
    assert "access-control-allow-origin" not in response.headers


def test_scopes_and_the_public_list_hold_under_a_proxy_prefix(
    sessions: sessionmaker[Any],
) -> None:
    # Served under /reglab (uvicorn --root-path), request paths carry the prefix: the checks
    # go by the matched route, so /admin stays admin-only and /health stays public.
    writer = bearer(key_with(sessions, ["write"]))
    with client_on(sessions), TestClient(app, root_path="/reglab") as proxied:
        assert proxied.get("/reglab/health").status_code in (200, 503)
        assert proxied.get("/reglab/experiments").status_code == 401
        response = proxied.get("/reglab/admin/keys", headers=writer)
        assert response.status_code == 403, response.text
        assert "'admin' scope" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p in operations() if p.startswith("/admin")]
)
def test_every_admin_operation_refuses_a_write_key(
    anonymous: TestClient, sessions: sessionmaker[Any], method: str, path: str
) -> None:
    body: dict[str, Any] = {"json": {}} if method == "POST" else {}
    writer = bearer(key_with(sessions, ["read", "write"]))
    response = anonymous.request(method, concrete(path), headers=writer, **body)
    assert response.status_code == 403, (method, path, response.text)
    assert "'admin' scope" in response.json()["detail"][0]["msg"]
