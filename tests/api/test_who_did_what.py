"""Who did what: experiments, runs, datasets and cancellations name the key that made them."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import sessionmaker

from api.auth import secret_key
from models import store
from models.services.keys import create_key, parse_raw_key
from models.store.tables import DEFAULT_PROJECT_ID, Dataset, Experiment, Run
from tests.api.uploads import csv_bytes, upload
from tests.factories import spec_dict


@dataclass(frozen=True)
class Key:
    """An API key as the tests use it: its row id, public key id and request headers."""

    row_id: int
    key_id: str
    headers: dict[str, str]


def key_of(row_id: int, raw_key: str) -> Key:
    parsed = parse_raw_key(raw_key)
    assert parsed is not None
    return Key(row_id, parsed[0], {"Authorization": f"Bearer {raw_key}"})


@pytest.fixture
def first(client: TestClient, sessions: sessionmaker[Any]) -> Key:
    """The key the client sends (an admin key of the default project)."""
    raw_key = str(client.headers["Authorization"]).removeprefix("Bearer ")
    with sessions() as session:
        found = store.find_key(session=session, key_id=raw_key[3:15])
    assert found is not None
    return key_of(found.id, raw_key)


def new_key(sessions: sessionmaker[Any], name: str) -> Key:
    """Another key of the default project, with the write scope only."""
    row_id, raw_key = create_key(
        sessions, project_id=DEFAULT_PROJECT_ID, name=name, scopes=["write"],
        expires_at=None, secret_key=secret_key(), created_by=None,
    )  # fmt: skip
    return key_of(row_id, raw_key)


@pytest.fixture
def second(sessions: sessionmaker[Any]) -> Key:
    """A second key of the client's project."""
    return new_key(sessions, "second")


def submit(client: TestClient, key: Key, name: str = "who") -> dict[str, Any]:
    response = client.post(
        "/experiments", json={"name": name, "spec": spec_dict()}, headers=key.headers
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(
    sessions: sessionmaker[Any], table: type[Any], row_id: int, *columns: str
) -> tuple[Any, ...]:
    with sessions() as session:
        row = session.get(table, row_id)
        return tuple(getattr(row, c) for c in columns)


def test_creating_an_experiment_records_its_key(
    client: TestClient, sessions: sessionmaker[Any], first: Key, second: Key
) -> None:
    mine, theirs = submit(client, first), submit(client, second)
    assert (mine["created_by_key"], mine["cancelled_by_key"]) == (first.key_id, None)
    assert (theirs["created_by_key"], theirs["cancelled_by_key"]) == (second.key_id, None)
    columns = ("created_by_key_id", "cancelled_by_key_id")
    assert stored(sessions, Experiment, mine["id"], *columns) == (first.row_id, None)
    assert stored(sessions, Experiment, theirs["id"], *columns) == (second.row_id, None)
    for experiment, key in ((mine, first), (theirs, second)):
        read = client.get(f"/experiments/{experiment['id']}").json()
        assert read["created_by_key"] == key.key_id
    listed = {e["id"]: e["created_by_key"] for e in client.get("/experiments").json()["items"]}
    assert listed == {mine["id"]: first.key_id, theirs["id"]: second.key_id}
    run = client.get(f"/runs/{mine['runs'][0]['id']}").json()
    assert (run["status"], run["cancelled_by_key"]) == ("queued", None)


def test_cancelling_an_experiment_records_the_key_on_it_and_its_runs(
    client: TestClient, sessions: sessionmaker[Any], first: Key, second: Key
) -> None:
    experiment = submit(client, first)
    run_id = experiment["runs"][0]["id"]
    response = client.post(f"/experiments/{experiment['id']}/cancel", headers=second.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created_by_key"], body["cancelled_by_key"]) == (first.key_id, second.key_id)
    columns = ("created_by_key_id", "cancelled_by_key_id")
    assert stored(sessions, Experiment, experiment["id"], *columns) == (first.row_id, second.row_id)
    assert stored(sessions, Run, run_id, "status", "cancelled_by_key_id") == (
        "cancelled",
        second.row_id,
    )
    assert client.get(f"/runs/{run_id}").json()["cancelled_by_key"] == second.key_id
    # A second cancel changes nothing: the first one is the one recorded.
    again = client.post(f"/experiments/{experiment['id']}/cancel", headers=first.headers).json()
    assert again["cancelled_by_key"] == second.key_id


def test_cancelling_a_run_records_the_key(
    client: TestClient, sessions: sessionmaker[Any], first: Key, second: Key
) -> None:
    runs = [submit(client, first, f"run-{i}")["runs"][0]["id"] for i in range(3)]
    for run_id, key in zip(runs, (first, second), strict=False):
        response = client.post(f"/runs/{run_id}/cancel", headers=key.headers)
        assert (response.status_code, response.json()["cancelled_by_key"]) == (200, key.key_id)
        assert stored(sessions, Run, run_id, "cancelled_by_key_id") == (key.row_id,)
    listed = {r["id"]: r["cancelled_by_key"] for r in client.get("/runs").json()["items"]}
    assert listed == {runs[0]: first.key_id, runs[1]: second.key_id, runs[2]: None}


def test_uploading_a_dataset_records_the_key(
    client: TestClient, sessions: sessionmaker[Any], first: Key, second: Key
) -> None:
    client.headers.update(first.headers)
    one = upload(client, "iris", "csv", csv_bytes(seed=1), label="species").json()
    client.headers.update(second.headers)
    two = upload(client, "iris", "csv", csv_bytes(seed=2), label="species").json()
    assert (one["created_by_key"], two["created_by_key"]) == (first.key_id, second.key_id)
    assert stored(sessions, Dataset, one["id"], "created_by_key_id") == (first.row_id,)
    assert stored(sessions, Dataset, two["id"], "created_by_key_id") == (second.row_id,)
    assert client.get(f"/datasets/{one['id']}").json()["created_by_key"] == first.key_id
    listed = {d["id"]: d["created_by_key"] for d in client.get("/datasets").json()["items"]}
    assert listed == {one["id"]: first.key_id, two["id"]: second.key_id}
    # The same bytes again are the version they repeat: made by the key that made it.
    client.headers.update(first.headers)
    repeat = upload(client, "iris", "csv", csv_bytes(seed=2), label="species")
    assert (repeat.status_code, repeat.json()["created_by_key"]) == (200, second.key_id)


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` inside the block."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("path", ["/experiments", "/runs", "/datasets"])
def test_lists_name_keys_in_one_query_per_page(
    client: TestClient, engine: Engine, sessions: sessionmaker[Any], path: str
) -> None:
    """As many statements for a page of 2 as for a page of 8 rows made by 8 different keys."""
    keys = [new_key(sessions, f"k{i}") for i in range(8)]
    for i, key in enumerate(keys):
        experiment = submit(client, key, f"e{i}")
        client.post(f"/runs/{experiment['runs'][0]['id']}/cancel", headers=key.headers)
        client.headers.update(key.headers)
        upload(client, f"data-{i}", "csv", csv_bytes(seed=i), label="species")
    client.get(path, params={"limit": 1})  # the key's last use is written: not in the counts
    counts = []
    for limit in (2, 8):
        with counted(engine) as statements:
            items = client.get(path, params={"limit": limit}).json()["items"]
        named = {item.get("created_by_key") or item.get("cancelled_by_key") for item in items}
        assert named == {key.key_id for key in keys[-limit:]}
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
