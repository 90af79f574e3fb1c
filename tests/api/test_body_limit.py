"""JSON bodies are bounded (413 past REGLAB_MAX_BODY_BYTES) and typed (415), on both databases."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.errors import MAX_ERRORS
from api.json_body import MAX_KEYS
from api.settings import Settings, get_settings
from tests.factories import spec_dict

JSON = {"content-type": "application/json"}
SMALL_LIMIT = 4096


def padded(size: int) -> bytes:
    """A valid experiment, padded with JSON whitespace to exactly `size` bytes."""
    body = json.dumps({"name": "padded", "spec": spec_dict()}).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """`body` as a generator: httpx sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def experiments(client: TestClient) -> int:
    """How many experiments the store holds."""
    return int(client.get("/experiments").json()["total"])


def the_error(response: Any, status: int) -> dict[str, Any]:
    """The one error of a 4xx in FastAPI's list shape."""
    assert response.status_code == status, response.text
    (error,) = response.json()["detail"]
    return dict(error)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """REGLAB_MAX_BODY_BYTES set low, so the bodies of these tests stay small."""
    monkeypatch.setattr(get_settings(), "max_body_bytes", SMALL_LIMIT)
    return SMALL_LIMIT


def test_the_default_limit_is_one_mib(client: TestClient) -> None:
    limit = 1024 * 1024
    assert get_settings().max_body_bytes == limit
    assert client.post("/experiments", content=padded(limit), headers=JSON).status_code == 202
    error = the_error(client.post("/experiments", content=padded(limit + 1), headers=JSON), 413)
    assert error["type"] == "body_too_large" and error["ctx"] == {"max_bytes": limit}
    assert experiments(client) == 1


def test_a_body_over_the_limit_is_413_and_nothing_is_written(
    client: TestClient, small_limit: int
) -> None:
    error = the_error(
        client.post("/experiments", content=padded(small_limit + 1), headers=JSON), 413
    )
    assert error == {
        "loc": ["body"],
        "msg": f"the body is over {small_limit} bytes, the limit for a JSON body "
        "(REGLAB_MAX_BODY_BYTES)",
        "type": "body_too_large",
        "ctx": {"max_bytes": small_limit},
    }
    assert experiments(client) == 0


def test_a_body_at_the_limit_is_read(client: TestClient, small_limit: int) -> None:
    assert client.post("/experiments", content=padded(small_limit), headers=JSON).status_code == 202
    at_limit_but_invalid = b"[" + b" " * (small_limit - 2) + b"]"
    error = the_error(client.post("/experiments", content=at_limit_but_invalid, headers=JSON), 422)
    assert error["loc"] == ["body"], error
    assert experiments(client) == 1


def test_a_chunked_body_is_counted_as_it_streams(client: TestClient, small_limit: int) -> None:
    over = client.post("/experiments", content=chunks(padded(small_limit + 1)), headers=JSON)
    assert the_error(over, 413)["type"] == "body_too_large"
    endless = (b" " * 1000 for _ in range(10_000))  # 10 MB: reading stops at the limit
    assert the_error(client.post("/experiments", content=endless, headers=JSON), 413)
    assert experiments(client) == 0
    at = client.post("/experiments", content=chunks(padded(small_limit)), headers=JSON)
    assert at.status_code == 202, at.text
    assert experiments(client) == 1


def test_the_limit_follows_the_settings(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = padded(3000)
    monkeypatch.setattr(get_settings(), "max_body_bytes", 2999)
    assert the_error(client.post("/experiments", content=body, headers=JSON), 413)["ctx"] == {
        "max_bytes": 2999
    }
    monkeypatch.setattr(get_settings(), "max_body_bytes", 3000)
    assert client.post("/experiments", content=body, headers=JSON).status_code == 202


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGLAB_MAX_BODY_BYTES", "2048")
    assert Settings().max_body_bytes == 2048


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonp",
    ],
)
def test_a_body_that_is_not_json_is_415(client: TestClient, content_type: str) -> None:
    body = padded(1000)
    response = client.post("/experiments", content=body, headers={"content-type": content_type})
    error = the_error(response, 415)
    assert error["loc"] == ["header", "content-type"] and error["type"] == "unsupported_media_type"
    assert "application/json or application/*+json" in error["msg"], error
    assert error["input"] == content_type
    assert experiments(client) == 0


def test_a_body_with_no_content_type_is_415(client: TestClient) -> None:
    """A typeless body is what a cross-site form or fetch can send without a CORS preflight."""
    error = the_error(client.post("/experiments", content=padded(1000)), 415)
    assert error["msg"].startswith("no Content-Type: this route takes a JSON body"), error
    assert error["input"] is None
    assert experiments(client) == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.reglab+json",
    ],
)
def test_json_types_are_accepted(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/experiments", content=padded(1000), headers={"content-type": content_type}
    )
    assert response.status_code == 202, response.text


def test_routes_without_a_body_ignore_its_type(client: TestClient) -> None:
    response = client.post("/runs/1/cancel", content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 404, response.text


def test_every_operation_with_a_body_declares_413_and_415(client: TestClient) -> None:
    schema = {"$ref": "#/components/schemas/HTTPValidationError"}
    operations = [
        (path, op)
        for path, item in client.get("/openapi.json").json()["paths"].items()
        for op in item.values()
    ]
    json_body = [
        (path, op)
        for path, op in operations
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert "/experiments" in [path for path, _ in json_body]
    for _, op in json_body:
        for status in ("413", "415"):
            assert op["responses"][status]["content"]["application/json"]["schema"] == schema
    assert all("413" not in op["responses"] for _, op in operations if "requestBody" not in op)


def test_an_object_of_too_many_keys_is_422_naming_it(client: TestClient) -> None:
    """Each unknown key is an error: an object of 90,000 would take seconds to validate."""
    spec = spec_dict(model={f"k{i}": 0 for i in range(MAX_KEYS + 1)})
    error = the_error(client.post("/experiments", json={"name": "x", "spec": spec}), 422)
    assert error["loc"] == ["body", "spec", "model"] and error["type"] == "too_many_keys", error
    assert f"more than {MAX_KEYS} keys" in error["msg"]


def test_a_422_lists_the_first_errors_and_counts_the_rest(client: TestClient) -> None:
    unknown = {f"k{i}": 0 for i in range(MAX_KEYS - 10)}
    spec = {**spec_dict(), **unknown, "model": {**unknown, "kind": "mlp"}}
    response = client.post("/experiments", json={"name": "x", "spec": spec})
    assert response.status_code == 422, response.text
    *listed, more = response.json()["detail"]
    assert len(listed) == MAX_ERRORS and all(e["type"] == "extra_forbidden" for e in listed)
    assert more == {
        "loc": ["body"],
        "msg": f"{2 * len(unknown) - MAX_ERRORS} more errors, not listed",
        "type": "too_many_errors",
    }
