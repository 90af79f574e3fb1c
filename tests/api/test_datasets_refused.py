"""Malicious and broken uploads: each a 4xx naming the problem, with nothing stored."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import api.routes.datasets
from models.ingest import IngestLimits
from tests.api.uploads import (
    csv_bytes,
    dataset_rows,
    npz_bytes,
    stored_files,
    upload,
    use_blob_folder,
)
from tests.models.ingest.files import image_bytes, npy_bytes, npy_header, write_npz, write_zip

PNG = image_bytes(np.zeros((6, 5)))


def pickled_npz(folder: Path) -> bytes:
    x = np.empty(4, dtype=object)
    x[:] = [{"payload": i} for i in range(4)]  # saved as a pickle
    return write_npz(folder / "p.npz", x=x, y=np.arange(4) % 2).read_bytes()


def trillion_npz(folder: Path) -> bytes:
    members = {"x.npy": npy_header((10**6, 10**6), "<f4", b"\0" * 64),
               "y.npy": npy_bytes(np.arange(2))}  # fmt: skip
    return write_zip(folder / "huge.npz", members).read_bytes()


def bomb_zip(folder: Path) -> bytes:
    members = {"a/1.png": PNG, "b/bomb.png": bytes(16 * 2**20)}  # 16 MiB of zeros: ~16 KB
    return write_zip(folder / "bomb.zip", members).read_bytes()


def escaping_zip(folder: Path) -> bytes:
    members = {"a/1.png": PNG, "b/2.png": PNG, "../b/3.png": PNG}
    return write_zip(folder / "escape.zip", members).read_bytes()


def truncated_npz(folder: Path) -> bytes:
    whole = npz_bytes(folder, test_split=False)
    return whole[: len(whole) // 2]


Build = Callable[[Path], bytes]
REFUSED: list[tuple[str, str, Build, dict[str, str], list[str], str]] = [
    ("pickle", "npz", pickled_npz, {}, ["body"], "x has dtype object"),
    ("trillion", "npz", trillion_npz, {}, ["body"],
     "input values declared: 1,000,000,000,000 exceeds the bound of 20,000,000 "
     "(REGLAB_INGEST_MAX_VALUES)"),
    ("zip-bomb", "image_zip", bomb_zip, {}, ["body"], "compression ratio of 'b/bomb.png': "),
    ("dot-dot", "image_zip", escaping_zip, {}, ["body"],
     "member '../b/3.png' has a path outside the archive ('..')"),
    ("nan", "csv", lambda _: b"a,b,label\n1,2,x\n3,nan,y\n", {}, ["body"],
     "feature 'b' holds nan in row 2"),
    ("no-label", "csv", lambda _: b"a,b,c\n1,2,3\n4,5,6\n", {}, ["query", "label"],
     "column 'label' not found; columns are a, b, c"),
    ("other-label", "csv", lambda _: csv_bytes(), {"label": "kind"}, ["query", "label"],
     "column 'kind' not found; columns are f1, species, f2"),
    ("empty", "csv", lambda _: b"", {}, ["body"], "the file is empty"),
    ("truncated", "npz", truncated_npz, {}, ["body"],
     "not a zip archive (npz), or a truncated one"),
    ("label-on-npz", "npz", lambda f: npz_bytes(f, test_split=False), {"label": "y"},
     ["query", "label"], "label names a CSV or Parquet column; format npz has none"),
    ("one-class", "image_zip", lambda f: write_zip(f / "one.zip", {"a/1.png": PNG}).read_bytes(),
     {}, ["body"], "only one class"),
]  # fmt: skip


@pytest.fixture
def blob_folder(client: TestClient, tmp_path: Path) -> Iterator[Path]:
    """The blob store's folder for this test (empty at first)."""
    yield use_blob_folder(tmp_path / "blobs")


def refusal(response: Any, status: int) -> dict[str, Any]:
    """The one error of a refusal in the API's list shape."""
    assert response.status_code == status, response.text
    [error] = response.json()["detail"]
    return dict(error)


@pytest.mark.parametrize("case", REFUSED, ids=[case[0] for case in REFUSED])
def test_broken_or_malicious_files_are_refused_and_nothing_is_stored(
    client: TestClient, blob_folder: Path, session: Session, tmp_path: Path, case: tuple[Any, ...]
) -> None:
    _, fmt, build, params, loc, words = case
    error = refusal(upload(client, "mine", fmt, build(tmp_path), **params), 422)
    assert error["loc"] == loc
    assert words in error["msg"], error["msg"]
    assert dataset_rows(session) == 0 and stored_files(blob_folder) == []


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """REGLAB_INGEST_MAX_BYTES of 1,000 bytes for this test."""
    limits = IngestLimits(max_bytes=1000)
    monkeypatch.setattr(api.routes.datasets, "get_ingest_limits", lambda: limits)
    return limits.max_bytes


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_past_the_byte_bound_is_a_413(
    client: TestClient, blob_folder: Path, session: Session, small_limit: int, chunked: bool
) -> None:
    data = csv_bytes(rows=200)
    assert len(data) > small_limit
    content = iter([data[i : i + 300] for i in range(0, len(data), 300)]) if chunked else data
    error = refusal(upload(client, "big", "csv", content, label="species"), 413)
    assert (error["loc"], error["type"]) == (["body"], "too_large")
    declared = f"file bytes (Content-Length): {len(data):,}"
    assert error["msg"].startswith("file bytes received: " if chunked else declared)
    assert error["msg"].endswith(" exceeds the bound of 1,000 (REGLAB_INGEST_MAX_BYTES)")
    assert dataset_rows(session) == 0 and stored_files(blob_folder) == []
    assert upload(client, "small", "csv", csv_bytes(rows=9), label="species").status_code == 201


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/csv"])
def test_a_body_that_is_not_a_file_is_a_415(
    client: TestClient, blob_folder: Path, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        "/datasets", params={"name": "t", "format": "csv"}, content=csv_bytes(), headers=headers
    )
    error = refusal(response, 415)
    assert error["loc"] == ["header", "content-type"]
    assert error["msg"].endswith("send the file as the raw body with Content-Type "
                                 "application/octet-stream")  # fmt: skip
    assert stored_files(blob_folder) == []


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"format": "csv"}, ["query", "name"]),
        ({"name": "../etc", "format": "csv"}, ["query", "name"]),
        ({"name": "x" * 101, "format": "csv"}, ["query", "name"]),
        ({"name": "t", "format": "xlsx"}, ["query", "format"]),
        ({"name": "t", "format": "csv", "label": "a\x00b"}, ["query", "label"]),
    ],
    ids=["no-name", "bad-name", "long-name", "format", "nul-label"],
)
def test_bad_parameters_are_a_422_naming_them(
    client: TestClient, blob_folder: Path, params: dict[str, str], loc: list[str]
) -> None:
    response = client.post(
        "/datasets",
        params=params,
        content=csv_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert refusal(response, 422)["loc"] == loc
    assert stored_files(blob_folder) == []
