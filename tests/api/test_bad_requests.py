"""Requests a careless user or an attacker sends: each gets a documented 4xx, never a 500."""

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.errors import VALIDATION_ERROR_SCHEMA
from api.json_body import StrictJsonRoute
from api.routes import compare, experiments, reports, runs, system
from models.store.run_filter import MAX_DEPTH
from tests.factories import spec_dict

TOO_BIG = "99999999999999999999"  # above 2**63 - 1: an overflow on SQLite
BIG = "2147483648"  # above 2**31 - 1: out of range for Postgres' INTEGER ids
JSON = {"content-type": "application/json"}


def post_raw(client: TestClient, body: bytes | str) -> Any:
    """POST /experiments with a body sent exactly as given."""
    return client.post("/experiments", content=body, headers=JSON)


def the_error(response: Any) -> dict[str, Any]:
    """The one error of a 422 in FastAPI's list shape."""
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert {"loc", "msg", "type"} <= error.keys(), error
    return dict(error)


def experiment_with(value: str, *where: str) -> str:
    """An experiment body (with a search) whose field at `where` holds the raw JSON `value`."""
    body: dict[str, Any] = {"name": "bad", "spec": spec_dict()}
    body["search"] = {"space": {"regularization.dropout": [0.1]}}
    *parents, last = where
    target = body
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = "__VALUE__"
    return json.dumps(body).replace('"__VALUE__"', value)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "[0.1, NaN]"])
@pytest.mark.parametrize(
    "where",
    ["name", "spec.seed", "spec.regularization.dropout", "spec.optimizer.lr", "search.seeds"],
)
def test_nan_and_infinity_are_422_naming_the_field(
    client: TestClient, value: str, where: str
) -> None:
    path = where.split(".")
    error = the_error(post_raw(client, experiment_with(value, *path)))
    assert error["loc"][: len(path) + 1] == ["body", *path], error


@pytest.mark.parametrize("value", ["[0.1, NaN]", '{"uniform": [0, Infinity]}'])
def test_nan_inside_a_search_space_is_422_naming_it(client: TestClient, value: str) -> None:
    path = ("search", "space", "regularization.dropout")
    error = the_error(post_raw(client, experiment_with(value, *path)))
    assert error["loc"][:4] == ["body", *path], error


def test_a_lone_surrogate_is_422_naming_the_field(client: TestClient) -> None:
    error = the_error(post_raw(client, experiment_with('"a\\ud800b"', "name")))
    assert error["loc"] == ["body", "name"] and "surrogate" in error["msg"], error
    nested = the_error(post_raw(client, experiment_with('"\\udfff"', "spec", "dataset", "name")))
    assert nested["loc"] == ["body", "spec", "dataset", "name"], nested
    nul = the_error(post_raw(client, experiment_with('"a\\u0000"', "name")))
    assert nul["loc"] == ["body", "name"] and "NUL" in nul["msg"], nul
    key = the_error(post_raw(client, experiment_with('{"\\ud800": 1}', "spec", "model")))
    assert key["loc"] == ["body", "spec", "model", "\\ud800"], key


@pytest.mark.parametrize(
    "body",
    [b'{"name": "\xff\xfe"}', b"\x00\x00", b"[" * 100_000, b'{"name": 1' + b"1" * 5000 + b"}"],
    ids=["invalid utf-8", "nul bytes", "nested too deep", "number too long"],
)
def test_bodies_that_are_not_json_are_422_json_invalid(client: TestClient, body: bytes) -> None:
    error = the_error(post_raw(client, body))
    assert error["type"] == "json_invalid" and error["loc"][0] == "body", error


def test_a_huge_invalid_input_is_not_echoed(client: TestClient) -> None:
    response = post_raw(client, experiment_with(json.dumps("x" * 200_000), "name"))
    assert response.status_code == 422
    assert len(response.content) < 2_000, len(response.content)
    many = post_raw(client, experiment_with(json.dumps(list(range(100_000))), "spec", "model"))
    assert many.status_code == 422 and len(many.content) < 5_000, len(many.content)


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("get", f"/runs/{TOO_BIG}", ["path", "run_id"]),
        ("get", f"/runs/{TOO_BIG}/metrics", ["path", "run_id"]),
        ("post", f"/runs/{TOO_BIG}/cancel", ["path", "run_id"]),
        ("get", f"/experiments/{TOO_BIG}", ["path", "experiment_id"]),
        ("post", f"/experiments/{TOO_BIG}/cancel", ["path", "experiment_id"]),
        ("get", f"/experiments/{TOO_BIG}/report", ["path", "experiment_id"]),
        ("get", f"/experiments/{TOO_BIG}/plot?x=seed", ["path", "experiment_id"]),
        ("get", f"/runs?experiment_id={TOO_BIG}", ["query", "experiment_id"]),
        ("get", f"/compare?run_ids=1,{TOO_BIG}", ["query", "run_ids"]),
        ("get", f"/compare/plot?run_ids={TOO_BIG},1", ["query", "run_ids"]),
    ],
)
@pytest.mark.parametrize("number", [TOO_BIG, BIG])
def test_ids_beyond_the_store_are_422_naming_the_parameter(
    client: TestClient, method: str, path: str, loc: list[str], number: str
) -> None:
    assert the_error(client.request(method, path.replace(TOO_BIG, number)))["loc"] == loc


@pytest.mark.parametrize("path", ["/runs/2147483647", "/experiments/2147483647"])
def test_the_largest_id_is_a_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        (f"id = {TOO_BIG}", 5),
        (f"id = {BIG}", 5),
        ("seed < -2147483649", 7),
        ("epochs_done > 1.5", 14),
        ("spec.optimizer.lr > 1" + "0" * 400, 20),
        ("status = 'a\x00b'", 9),
        (f"experiment in (1, -{TOO_BIG})", 18),
        (f"seed > {TOO_BIG}", 7),
        ("epochs_done < 1e999", 14),
        ("summary.test_acc > 1e999", 19),
    ],
)
def test_numbers_out_of_range_in_a_filter_are_422_with_position(
    client: TestClient, expression: str, position: int
) -> None:
    error = the_error(client.get("/runs", params={"filter": expression}))
    assert error["loc"] == ["query", "filter"] and error["ctx"]["position"] == position, error


@pytest.mark.parametrize("expression", ["(" * 330 + "id = 1" + ")" * 330, "not " * 490 + "id = 1"])
def test_deeply_nested_filters_are_422_with_position(client: TestClient, expression: str) -> None:
    error = the_error(client.get("/runs", params={"filter": expression}))
    assert error["loc"] == ["query", "filter"] and "nest" in error["msg"], error
    assert 0 < error["ctx"]["position"] < 300, error


@pytest.mark.parametrize("shape", ["not (id > 0 or ", "(id = 1 or (id = 2 and "])
def test_filters_nested_to_the_bound_still_run(client: TestClient, shape: str) -> None:
    repeats = MAX_DEPTH // 2  # each shape opens two levels
    expression = shape * repeats + "id = 0" + ")" * (shape.count("(") * repeats)
    ordered = {"filter": expression, "order_by": "summary.test_acc desc"}
    for params in (ordered, {**ordered, "cursor": cursor_of([0.5, 1])}):
        response = client.get("/runs", params=params)
        assert response.status_code == 200 and response.json()["total"] == 0, response.text


def cursor_of(position: Any) -> str:
    """A cursor in the listing's encoding for any decoded position."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/runs", "é"),
        ("/experiments", "é"),
        ("/runs", cursor_of([[1]])),
        ("/runs", cursor_of([True])),
        ("/runs", cursor_of([int(TOO_BIG)])),
        ("/runs", cursor_of([int(BIG)])),
        ("/runs", cursor_of([None])),
        ("/runs", cursor_of([1, 1])),
        ("/runs?order_by=backend", cursor_of(["a\x00", 1])),
        ("/runs?order_by=backend", cursor_of(["\ud800", 1])),
        ("/runs?order_by=summary.test_acc", cursor_of([1e999, 1])),
        ("/experiments", cursor_of(["1"])),
        ("/runs?order_by=summary.test_acc", cursor_of([[1], 1])),
        ("/runs?order_by=summary.test_acc", cursor_of(["high", 1])),
        ("/runs?order_by=status", cursor_of([3, 1])),
        ("/runs?order_by=status", cursor_of(["queued", 1.5])),
        ("/runs?order_by=seed", cursor_of([int(TOO_BIG), 1])),
        ("/runs?order_by=spec.regularization.batchnorm", cursor_of([1, 1])),
        ("/runs?order_by=summary.test_acc", base64.urlsafe_b64encode(b"[NaN, 1]").decode()),
    ],
)
def test_cursors_not_handed_out_are_422_on_cursor(
    client: TestClient, path: str, cursor: str
) -> None:
    error = the_error(client.get(path, params={"cursor": cursor}))
    assert error["loc"] == ["query", "cursor"], error


@pytest.fixture
def run_id(client: TestClient) -> int:
    """A queued run of a new experiment."""
    body = {"name": "shapes", "spec": spec_dict()}
    return int(client.post("/experiments", json=body).json()["runs"][0]["id"])


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/runs/{run}/metrics?keys=val_acc,nope", ["query", "keys"]),
        ("/compare?run_ids={run},{run}", ["query", "run_ids"]),
        ("/compare?run_ids={run},x", ["query", "run_ids"]),
        ("/compare?run_ids={run},0", ["query", "run_ids"]),
        ("/compare?run_ids={run},{other}&keys=nope", ["query", "keys"]),
        ("/compare/plot?run_ids={run},{other}&key=val_acc,val_loss", ["query", "key"]),
        ("/compare/plot?run_ids={run},{other}&key=nope", ["query", "key"]),
        ("/compare/plot?run_ids={run},{other}&key=", ["query", "key"]),
        ("/experiments/{experiment}/plot?x=nope", ["query", "x"]),
        ("/experiments/{experiment}/plot?x=seed&y=nope", ["query", "y"]),
    ],
)
def test_every_422_has_the_list_shape(
    client: TestClient, run_id: int, path: str, loc: list[str]
) -> None:
    experiment = client.get(f"/runs/{run_id}").json()["experiment_id"]
    url = path.format(run=run_id, other=run_id + 1, experiment=experiment)
    error = the_error(client.get(url))
    assert error["loc"] == loc and isinstance(error["msg"], str), error


def test_every_422_is_documented_with_the_error_list(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not operation.get("parameters") and "requestBody" not in operation:
                continue
            documented = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert documented == VALIDATION_ERROR_SCHEMA, (method, path)
    modules = (compare, experiments, reports, runs, system)
    assert {m.router.route_class for m in modules} == {StrictJsonRoute}  # bodies read strictly


@pytest.mark.parametrize("order", ["spec.regularization.batchnorm", "spec.optimizer.nesterov asc"])
def test_pages_ordered_by_a_boolean_follow_their_cursors(client: TestClient, order: str) -> None:
    for batchnorm in (True, False, True):
        spec = spec_dict(regularization={"batchnorm": batchnorm})
        assert client.post("/experiments", json={"name": "b", "spec": spec}).status_code == 202
    seen, cursor = [], None
    for _ in range(4):
        params = {"order_by": order, "limit": 1, **({"cursor": cursor} if cursor else {})}
        response = client.get("/runs", params=params)
        assert response.status_code == 200, response.text
        seen += [run["id"] for run in response.json()["items"]]
        if (cursor := response.json()["next_cursor"]) is None:
            break
    assert len(set(seen)) == 3, seen
    handmade = client.get("/runs", params={"order_by": order, "cursor": cursor_of([True, 1])})
    assert handmade.status_code == 200, handmade.text


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("get", "/runs/{missing}", ["path", "run_id"]),
        ("get", "/runs/{missing}/metrics", ["path", "run_id"]),
        ("post", "/runs/{missing}/cancel", ["path", "run_id"]),
        ("get", "/experiments/{missing}", ["path", "experiment_id"]),
        ("post", "/experiments/{missing}/cancel", ["path", "experiment_id"]),
        ("get", "/experiments/{missing}/report", ["path", "experiment_id"]),
        ("get", "/experiments/{missing}/plot?x=seed", ["path", "experiment_id"]),
        ("get", "/compare?run_ids={run},{missing}", ["query", "run_ids"]),
        ("get", "/compare/plot?run_ids={missing},{run}", ["query", "run_ids"]),
    ],
)
def test_a_404_has_the_list_shape_naming_the_parameter(
    client: TestClient, run_id: int, method: str, path: str, loc: list[str]
) -> None:
    response = client.request(method, path.format(run=run_id, missing=2147483647))
    assert response.status_code == 404, response.text
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (loc, "not_found") and "2147483647" in error["msg"]


def test_a_409_has_the_list_shape_naming_what_conflicts(client: TestClient, run_id: int) -> None:
    assert client.post(f"/runs/{run_id}/cancel").status_code == 200
    again = client.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 409, again.text
    (error,) = again.json()["detail"]
    assert (error["loc"], error["type"]) == (["path", "run_id"], "conflict"), error
    key = {"Idempotency-Key": "k"}
    for name in ("first", "second"):
        reused = client.post("/experiments", json={"name": name, "spec": spec_dict()}, headers=key)
    assert reused.status_code == 409, reused.text
    (error,) = reused.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"] and "different body" in error["msg"]


@pytest.mark.parametrize(("method", "path"), [("get", "/nowhere"), ("delete", "/runs")])
def test_routes_that_do_not_exist_answer_in_the_list_shape(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert response.status_code in (404, 405)
    (error,) = response.json()["detail"]
    assert {"loc", "msg", "type"} <= error.keys() and error["type"] in (
        "not_found",
        "method_not_allowed",
    )


def test_every_4xx_is_documented_with_the_error_list(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    documented = response["content"]["application/json"]["schema"]
                    assert documented == VALIDATION_ERROR_SCHEMA, (method, path, code)
