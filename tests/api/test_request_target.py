"""Every request the OpenAPI allows fits the server's URL parser, so it reaches the app.

uvicorn parses URLs with httptools, which keeps offsets in 16 bits: a longer request target
is a 400 with a text body before any route sees it, an answer no operation documents.
"""

from typing import Any

from fastapi.testclient import TestClient

from api.main import app

MAX_URL_BYTES = 65_535
# A character percent-encoded in UTF-8 takes at most 4 bytes of 3 characters each.
BYTES_PER_CHARACTER = 12
NUMBER_CHARACTERS = 25  # a float's repr, sign and exponent included


def _alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]


def _longest_value(name: str, schema: dict[str, Any]) -> int:
    """The most bytes a value of the parameter can take in a URL."""
    longest = 0
    for alternative in _alternatives(schema):
        if "enum" in alternative:
            longest = max(longest, *(len(str(v)) * 3 for v in alternative["enum"]))
        elif alternative["type"] == "string":
            assert "maxLength" in alternative, f"{name} is a string without maxLength"
            longest = max(longest, alternative["maxLength"] * BYTES_PER_CHARACTER)
        else:
            assert alternative["type"] in {"integer", "number", "boolean"}, (name, alternative)
            longest = max(longest, NUMBER_CHARACTERS)
    return longest


def _longest_url(path: str, parameters: list[dict[str, Any]]) -> int:
    """The longest request target of an operation: path and query, every value at its bound."""
    total = len(path) + 1
    for parameter in parameters:
        name, schema = parameter["name"], parameter["schema"]
        if parameter["in"] == "path":
            total += _longest_value(name, schema) - len(name) - 2
        elif parameter["in"] == "query":
            total += len(name) + 2 + _longest_value(name, schema)
    return total


def test_the_longest_url_of_every_operation_fits_the_parser() -> None:
    document = app.openapi()
    longest = {
        f"{method.upper()} {path}": _longest_url(path, operation.get("parameters", []))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert longest["GET /runs"] > 30_000  # the sum counts the filter's 2,000 characters
    too_long = {label: size for label, size in longest.items() if size > MAX_URL_BYTES}
    assert not too_long


def test_an_after_longer_than_its_bound_is_a_422_naming_it(client: TestClient) -> None:
    response = client.get("/runs/1/events", params={"after": "x" * 4097})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "after"]
