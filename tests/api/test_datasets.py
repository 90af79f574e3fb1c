"""POST /datasets in every format, versions and repeats, and GET /datasets (list and one)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.deps import get_project_id
from api.main import app
from models import store
from models.spec.dataset import DatasetSpec
from tests.api.uploads import (
    csv_bytes,
    dataset_rows,
    image_zip_bytes,
    npz_bytes,
    parquet_bytes,
    stored_files,
    upload,
    use_blob_folder,
)


@pytest.fixture
def blob_folder(client: TestClient, tmp_path: Path) -> Iterator[Path]:
    """The blob store's folder for this test (empty at first)."""
    yield use_blob_folder(tmp_path / "blobs")


def created(response: Any) -> dict[str, Any]:
    """The body of a 201, checked to point at itself."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/datasets/{body['id']}"
    return body


def test_csv_with_string_labels_is_stored_under_its_sha256(
    client: TestClient, blob_folder: Path
) -> None:
    data = csv_bytes()
    body = created(upload(client, "iris", "csv", data, label="species"))
    assert (body["name"], body["version"], body["format"], body["label"]) == (
        "iris", 1, "csv", "species"
    )  # fmt: skip
    assert body["bytes"] == len(data) and body["input_shape"] == [2]
    assert body["class_names"] == ["setosa", "versicolor", "virginica"]
    assert body["splits"] == {"train": {"examples": 30, "class_counts": [10, 10, 10]}, "test": None}
    blob = blob_folder / "sha256" / body["sha256"][:2] / body["sha256"]
    assert stored_files(blob_folder) == [blob] and blob.read_bytes() == data
    assert [v["version"] for v in body["versions"]] == [1]


# format, file variant, then input shape, class names, per-class counts of train and test
FORMATS: list[tuple[str, Any, list[int], list[str], list[int], list[int] | None]] = [
    ("parquet", None, [3], ["0", "1"], [12, 12], None),
    ("npz", False, [4, 4], ["0", "1", "2", "3"], [10] * 4, None),
    ("npz", True, [4, 4], ["0", "1", "2", "3"], [10] * 4, [3] * 4),
    ("image_zip", None, [6, 5], ["cat", "dog"], [3, 3], None),
    ("image_zip", 3, [3, 6, 5], ["cat", "dog"], [3, 3], None),
]


@pytest.mark.parametrize(
    "case", FORMATS, ids=["parquet", "npz", "npz-test-split", "images-grey", "images-rgb"]
)
def test_each_format_records_shape_classes_and_splits(
    client: TestClient, blob_folder: Path, tmp_path: Path, case: tuple[Any, ...]
) -> None:
    fmt, kind, shape, classes, train, test = case
    files = {
        "parquet": lambda: parquet_bytes(),
        "npz": lambda: npz_bytes(tmp_path, test_split=kind),
        "image_zip": lambda: image_zip_bytes(tmp_path, channels=kind),
    }
    body = created(upload(client, f"my-{fmt}", fmt, files[fmt]()))
    assert (body["input_shape"], body["class_names"]) == (shape, classes)
    assert body["splits"]["train"] == {"examples": sum(train), "class_counts": train}
    expected_test = {"examples": sum(test), "class_counts": test} if test else None
    assert body["splits"]["test"] == expected_test
    assert body["label"] == ("label" if fmt == "parquet" else None)
    assert body["n_examples"] == sum(train) + sum(test or [])
    assert client.get(f"/datasets/{body['id']}").json() == body


def test_new_content_is_a_new_version_and_the_same_content_its_old_one(
    client: TestClient, blob_folder: Path
) -> None:
    first = created(upload(client, "iris", "csv", csv_bytes(seed=0), label="species"))
    second = created(upload(client, "iris", "csv", csv_bytes(seed=1), label="species"))
    assert second["version"] == 2 and second["sha256"] != first["sha256"]
    again = upload(client, "iris", "csv", csv_bytes(seed=0), label="species")
    assert again.status_code == 200
    assert again.headers["location"] == f"/datasets/{first['id']}"
    assert again.json()["version"] == 1
    assert [v["id"] for v in again.json()["versions"]] == [first["id"], second["id"]]
    assert len(stored_files(blob_folder)) == 2
    # The same bytes under another name are that name's version 1, and one blob still.
    other = created(upload(client, "iris-copy", "csv", csv_bytes(seed=0), label="species"))
    assert (other["version"], other["sha256"]) == (1, first["sha256"])
    assert len(stored_files(blob_folder)) == 2


def test_the_same_bytes_read_by_another_label_are_another_version(
    client: TestClient, blob_folder: Path
) -> None:
    data = b"a,b,label\n1,5,0\n2,6,1\n3,5,0\n4,6,1\n"
    by_label = created(upload(client, "t", "csv", data))
    assert (by_label["label"], by_label["class_names"]) == ("label", ["0", "1"])
    assert upload(client, "t", "csv", data, label="label").status_code == 200  # the default
    by_b = created(upload(client, "t", "csv", data, label="b"))
    assert (by_b["version"], by_b["label"], by_b["class_names"]) == (2, "b", ["5", "6"])
    assert by_b["input_shape"] == [2] and by_b["sha256"] == by_label["sha256"]


def test_a_version_lost_to_a_concurrent_upload_is_taken_again(
    client: TestClient, blob_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created(upload(client, "iris", "csv", csv_bytes(seed=0), label="species"))
    real = store.next_dataset_version
    calls: list[int] = []

    def stale(**kwargs: Any) -> int:  # the first answer is what a concurrent upload took
        calls.append(1)
        return 1 if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(store, "next_dataset_version", stale)
    second = created(upload(client, "iris", "csv", csv_bytes(seed=1), label="species"))
    assert second["version"] == 2 and len(calls) == 2


def test_a_twin_stored_concurrently_is_answered_with(
    client: TestClient, blob_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = created(upload(client, "iris", "csv", csv_bytes(), label="species"))
    real = store.find_dataset_content
    calls: list[int] = []

    def unseen(**kwargs: Any) -> Any:  # the twin committed just after this upload looked
        calls.append(1)
        return None if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(store, "find_dataset_content", unseen)
    again = upload(client, "iris", "csv", csv_bytes(), label="species")
    assert (again.status_code, again.json()["id"], len(calls)) == (200, first["id"], 2)
    assert len(stored_files(blob_folder)) == 1


@pytest.mark.parametrize("name", ["digits", "moons", "classification"])
def test_built_in_names_are_reserved(
    client: TestClient, blob_folder: Path, session: Session, name: str
) -> None:
    response = upload(client, name, "csv", csv_bytes(), label="species")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "name"]
    assert error["msg"].startswith(f"'{name}' is a built-in dataset's name (built in: digits")
    assert dataset_rows(session) == 0 and stored_files(blob_folder) == []


def test_the_documented_upload_runs_and_its_name_pattern_is_the_specs(
    client: TestClient, blob_folder: Path
) -> None:
    schema = client.get("/openapi.json").json()
    parameters = schema["paths"]["/datasets"]["post"]["parameters"]
    name = next(p for p in parameters if p["name"] == "name")["schema"]
    spec_name = DatasetSpec.model_json_schema()["properties"]["name"]
    assert (name["pattern"], name["maxLength"]) == (spec_name["pattern"], spec_name["maxLength"])
    body = schema["paths"]["/datasets"]["post"]["requestBody"]["content"]
    assert body["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
    example = body["application/octet-stream"]["example"].encode()
    assert upload(client, "iris", "csv", example, label="species").status_code == 201
    responses = schema["paths"]["/datasets"]["post"]["responses"]
    assert {"200", "201", "413", "415", "422"} <= set(responses)


def test_list_holds_the_built_in_datasets_and_pages_the_uploads(
    client: TestClient, blob_folder: Path
) -> None:
    ids = [
        created(upload(client, "iris", "csv", csv_bytes(seed=s), label="species"))["id"]
        for s in range(3)
    ]
    first = client.get("/datasets", params={"limit": 2}).json()
    builtin = {d["name"]: d for d in first["builtin"]}
    assert set(builtin) == {"digits", "moons", "circles", "blobs", "classification"}
    assert builtin["digits"]["input_shape"] == [8, 8] and builtin["digits"]["n_classes"] == 10
    assert builtin["blobs"]["params"]["n_classes"] == 3
    assert [d["id"] for d in first["items"]] == ids[:0:-1] and first["total"] == 3
    assert first["items"][0]["n_classes"] == 3 and "class_names" not in first["items"][0]
    rest = client.get("/datasets", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [d["id"] for d in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert rest["builtin"] == first["builtin"]


def test_unknown_dataset_is_a_404_naming_the_id(client: TestClient) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, "/datasets/999999")
        assert response.status_code == 404
        [error] = response.json()["detail"]
        assert (error["loc"], error["msg"]) == (["path", "dataset_id"], "dataset 999999 not found")


def test_another_projects_versions_are_not_found(client: TestClient, blob_folder: Path) -> None:
    mine = created(upload(client, "iris", "csv", csv_bytes(), label="species"))
    app.dependency_overrides[get_project_id] = lambda: 2
    assert client.get(f"/datasets/{mine['id']}").status_code == 404
    assert client.delete(f"/datasets/{mine['id']}").status_code == 404
    listed = client.get("/datasets").json()
    assert (listed["items"], listed["total"], len(listed["builtin"])) == ([], 0, 5)
    del app.dependency_overrides[get_project_id]
    assert client.get(f"/datasets/{mine['id']}").status_code == 200
