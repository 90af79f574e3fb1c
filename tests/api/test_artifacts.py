"""GET /runs/{id}/artifacts and /runs/{id}/artifacts/{name}: listed, streamed, 404s."""

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.blobs import get_blob_store
from api.main import app
from models.blobs import BlobStore
from models.store.artifacts import ArtifactFile, add_artifacts
from tests.factories import create_run

WEIGHTS = os.urandom(2 * 2**20 + 12345)  # over two of the route's 1 MiB chunks
MANIFEST = b'{"format": "reglab-model/1"}'


@pytest.fixture
def api(client: TestClient, blobs: BlobStore) -> Iterator[TestClient]:
    """The client, its artifacts read from `blobs` (a folder or S3)."""
    app.dependency_overrides[get_blob_store] = lambda: blobs
    yield client


def stored_run(sessions: sessionmaker[Any], blobs: BlobStore, files: dict[str, bytes]) -> int:
    """A run whose artifacts are `files`, stored as a worker stores them."""
    with sessions.begin() as session:
        run_id = create_run(session).id
        rows = []
        for name, data in files.items():
            ref = blobs.put_bytes(data)
            kind = "application/json" if name.endswith(".json") else "application/octet-stream"
            rows.append(ArtifactFile(name, ref.sha256, ref.size, kind))
        add_artifacts(session=session, run_id=run_id, files=rows)
    return run_id


def test_lists_a_runs_artifacts_by_name(
    api: TestClient, sessions: sessionmaker[Any], blobs: BlobStore
) -> None:
    run_id = stored_run(sessions, blobs, {"model.safetensors": WEIGHTS, "model.json": MANIFEST})
    response = api.get(f"/runs/{run_id}/artifacts")
    assert response.status_code == 200
    listed = response.json()
    assert [a["name"] for a in listed] == ["model.json", "model.safetensors"]
    weights = listed[1]
    assert weights["bytes"] == len(WEIGHTS)
    assert weights["sha256"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert weights["media_type"] == "application/octet-stream"
    assert weights["url"] == f"/runs/{run_id}/artifacts/model.safetensors"
    assert weights["created_at"]


def test_downloads_stream_the_stored_bytes(
    api: TestClient, sessions: sessionmaker[Any], blobs: BlobStore
) -> None:
    run_id = stored_run(sessions, blobs, {"model.safetensors": WEIGHTS, "model.json": MANIFEST})
    response = api.get(f"/runs/{run_id}/artifacts/model.safetensors")
    assert response.status_code == 200
    assert response.content == WEIGHTS
    etag = f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'
    assert response.headers["etag"] == etag
    assert response.headers["content-length"] == str(len(WEIGHTS))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="model.safetensors"'
    manifest = api.get(f"/runs/{run_id}/artifacts/model.json")
    assert manifest.json() == {"format": "reglab-model/1"}
    assert manifest.headers["content-type"] == "application/json"
    unchanged = api.get(
        f"/runs/{run_id}/artifacts/model.safetensors", headers={"If-None-Match": etag}
    )
    assert (unchanged.status_code, unchanged.content) == (304, b"")


def test_a_run_without_artifacts_lists_none(api: TestClient, sessions: sessionmaker[Any]) -> None:
    with sessions.begin() as session:
        run_id = create_run(session).id
    assert api.get(f"/runs/{run_id}/artifacts").json() == []


def not_found(response: Any, loc: list[str]) -> str:
    """The message of a 404 in the API's error shape, checking where it points."""
    assert response.status_code == 404
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (loc, "not_found")
    return str(error["msg"])


def test_unknown_runs_and_names_are_404s(
    api: TestClient, sessions: sessionmaker[Any], blobs: BlobStore
) -> None:
    run_id = stored_run(sessions, blobs, {"model.json": MANIFEST})
    missing = run_id + 1000
    assert "not found" in not_found(api.get(f"/runs/{missing}/artifacts"), ["path", "run_id"])
    gone = api.get(f"/runs/{missing}/artifacts/model.json")
    assert not_found(gone, ["path", "run_id"]) == f"run {missing} not found"
    message = not_found(api.get(f"/runs/{run_id}/artifacts/best.safetensors"), ["path", "name"])
    assert message == f"run {run_id} has no artifact 'best.safetensors'"


def test_an_artifact_whose_blob_is_gone_is_a_404(
    api: TestClient, sessions: sessionmaker[Any], blobs: BlobStore
) -> None:
    run_id = stored_run(sessions, blobs, {"model.json": MANIFEST})
    blobs.delete(hashlib.sha256(MANIFEST).hexdigest())
    message = not_found(api.get(f"/runs/{run_id}/artifacts/model.json"), ["path", "name"])
    assert "gone from the blob store" in message


def test_a_name_outside_the_artifact_alphabet_is_a_422(
    api: TestClient, sessions: sessionmaker[Any]
) -> None:
    with sessions.begin() as session:
        run_id = create_run(session).id
    response = api.get(f"/runs/{run_id}/artifacts/model%00.json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "name"]
