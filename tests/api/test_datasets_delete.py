"""DELETE /datasets/{id}: refused while queued or running runs train on the version; the blob
goes with the last row that refers to it."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from models.store.tables import Artifact, Run
from tests.api.conftest import client_on
from tests.api.uploads import csv_bytes, dataset_rows, stored_files, upload, use_blob_folder
from tests.factories import spec_dict


@pytest.fixture
def sessions(fresh_sessions: sessionmaker[Any]) -> sessionmaker[Any]:
    """A database committed for real: a submit on an upload reads the dataset in one session
    and writes in another, which a rolled-back outer transaction cannot hold apart."""
    return fresh_sessions


@pytest.fixture
def client(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """HTTP client for the app, bound to this test's database."""
    with client_on(sessions) as client:
        yield client


@pytest.fixture
def blob_folder(client: TestClient, tmp_path: Path) -> Iterator[Path]:
    """The blob store's folder for this test (empty at first)."""
    yield use_blob_folder(tmp_path / "blobs")


def uploaded(client: TestClient, seed: int = 0, name: str = "iris") -> dict[str, Any]:
    response = upload(client, name, "csv", csv_bytes(seed=seed), label="species")
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def submit_on(client: TestClient, dataset: dict[str, Any]) -> dict[str, Any]:
    """An experiment of one queued run on the uploaded dataset `dataset` names."""
    spec = spec_dict(dataset=dataset)
    spec["dataset"] = dataset  # not merged: the moons parameters do not apply to an upload
    response = client.post("/experiments", json={"name": "on-upload", "spec": spec})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def conflict(response: Any) -> str:
    assert response.status_code == 409, response.text
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["path", "dataset_id"], "conflict")
    return str(error["msg"])


def test_a_version_in_use_is_kept_until_its_runs_end(
    client: TestClient, blob_folder: Path, sessions: sessionmaker[Any]
) -> None:
    first, second = uploaded(client, seed=0), uploaded(client, seed=1)
    experiment = submit_on(client, {"name": "iris"})
    assert experiment["spec"]["dataset"]["version"] == 2  # pinned to the newest at submit
    run_id = experiment["runs"][0]["id"]
    assert client.get(f"/runs/{run_id}").json()["spec"]["dataset"]["version"] == 2
    message = conflict(client.delete(f"/datasets/{second['id']}"))
    assert message == (
        f"dataset 'iris' version 2 is used by queued or running runs {run_id}: cancel them "
        "(POST /runs/{id}/cancel) or wait until they end"
    )
    assert client.delete(f"/datasets/{first['id']}").status_code == 204  # v1 is not in use
    assert client.post(f"/runs/{run_id}/cancel").status_code == 200
    assert client.delete(f"/datasets/{second['id']}").status_code == 204
    assert client.get(f"/datasets/{second['id']}").status_code == 404
    with sessions() as session:
        assert dataset_rows(session) == 0 and stored_files(blob_folder) == []


def test_a_fixed_version_and_a_running_run_hold_their_version(
    client: TestClient, blob_folder: Path, sessions: sessionmaker[Any]
) -> None:
    first, second = uploaded(client, seed=0), uploaded(client, seed=1)
    run_id = submit_on(client, {"name": "iris", "version": 1})["runs"][0]["id"]
    with sessions.begin() as session:
        session.get_one(Run, run_id).status = "running"
    assert str(run_id) in conflict(client.delete(f"/datasets/{first['id']}"))
    assert client.delete(f"/datasets/{second['id']}").status_code == 204


def test_a_spec_without_a_version_holds_the_newest(
    client: TestClient, blob_folder: Path, sessions: sessionmaker[Any]
) -> None:
    first = uploaded(client, seed=0)
    run_id = submit_on(client, {"name": "iris"})["runs"][0]["id"]
    with sessions.begin() as session:  # as stored before specs were pinned at submit
        run = session.get_one(Run, run_id)
        run.spec = {**run.spec, "dataset": {**run.spec["dataset"], "version": None}}
    assert str(run_id) in conflict(client.delete(f"/datasets/{first['id']}"))
    second = uploaded(client, seed=1)  # now the newest: the run would train on it
    assert str(run_id) in conflict(client.delete(f"/datasets/{second['id']}"))
    assert client.delete(f"/datasets/{first['id']}").status_code == 204


def test_runs_on_another_dataset_or_finished_do_not_hold_it(
    client: TestClient, blob_folder: Path, sessions: sessionmaker[Any]
) -> None:
    iris = uploaded(client)
    other = uploaded(client, name="iris-2")
    runs = [submit_on(client, {"name": n})["runs"][0]["id"] for n in ("iris-2", "iris")]
    with sessions.begin() as session:
        session.get_one(Run, runs[1]).status = "succeeded"
    assert client.delete(f"/datasets/{iris['id']}").status_code == 204
    assert str(runs[0]) in conflict(client.delete(f"/datasets/{other['id']}"))


def test_a_blob_shared_with_another_version_or_an_artifact_stays(
    client: TestClient, blob_folder: Path, sessions: sessionmaker[Any]
) -> None:
    iris, twin = uploaded(client), uploaded(client, name="iris-copy")  # the same bytes
    assert iris["sha256"] == twin["sha256"] and len(stored_files(blob_folder)) == 1
    assert client.delete(f"/datasets/{iris['id']}").status_code == 204
    assert len(stored_files(blob_folder)) == 1  # iris-copy still refers to it
    run_id = submit_on(client, {"name": "moons"})["runs"][0]["id"]
    with sessions.begin() as session:
        session.add(
            Artifact(
                run_id=run_id,
                name="model.safetensors",
                sha256=twin["sha256"],
                bytes=twin["bytes"],
                media_type="application/octet-stream",
            )
        )
    assert client.delete(f"/datasets/{twin['id']}").status_code == 204
    assert len(stored_files(blob_folder)) == 1  # the artifact still refers to it
    with sessions.begin() as session:
        session.delete(session.get_one(Artifact, (run_id, "model.safetensors")))
    uploaded(client, name="iris-again")
    again = client.get("/datasets").json()["items"][0]
    assert client.delete(f"/datasets/{again['id']}").status_code == 204
    assert stored_files(blob_folder) == []


def test_a_deleted_version_number_is_never_given_again(
    client: TestClient, blob_folder: Path
) -> None:
    first, second = uploaded(client, seed=0), uploaded(client, seed=1)
    assert client.delete(f"/datasets/{second['id']}").status_code == 204
    third = uploaded(client, seed=2)
    # Version 2 named seed 1's file; a spec naming it must never train on seed 2's.
    assert (first["version"], second["version"], third["version"]) == (1, 2, 3)


def test_a_search_that_will_start_more_runs_holds_its_version(
    client: TestClient, blob_folder: Path, sessions: sessionmaker[Any]
) -> None:
    only = uploaded(client)
    spec = {**spec_dict(), "dataset": {"name": "iris"}}
    search = {"space": {"regularization.dropout": [0.0, 0.1, 0.2]}, "max_parallel": 1}
    response = client.post("/experiments", json={"name": "s", "spec": spec, "search": search})
    assert response.status_code == 202, response.text
    experiment = response.json()
    with sessions.begin() as session:  # its first run over, the next not yet started
        session.get_one(Run, experiment["runs"][0]["id"]).status = "succeeded"
    assert conflict(client.delete(f"/datasets/{only['id']}")) == (
        "dataset 'iris' version 1 is used by searches that will start more runs: experiments "
        f"{experiment['id']}: cancel them (POST /experiments/{{id}}/cancel) or wait until they end"
    )
    assert client.post(f"/experiments/{experiment['id']}/cancel").status_code == 200
    assert client.delete(f"/datasets/{only['id']}").status_code == 204
