"""Dataset files built in the tests, and POST /datasets against a blob store of the test's own."""

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.blobs import get_blob_store
from api.main import app
from models.blobs import BlobStore
from models.store.tables import Dataset
from tests.models.ingest.files import image_bytes, write_npz, write_zip

OCTET = {"Content-Type": "application/octet-stream"}
RNG = np.random.default_rng(12)


def use_blob_folder(folder: Path) -> Path:
    """Point the app's blob store at `folder` (the client fixture clears the override)."""
    store = BlobStore(str(folder))
    app.dependency_overrides[get_blob_store] = lambda: store
    return folder


def upload(client: TestClient, name: str, fmt: str, data: Any, **params: str) -> httpx.Response:
    """POST `data` as the file of dataset `name` in format `fmt`."""
    return client.post(
        "/datasets", params={"name": name, "format": fmt, **params}, content=data, headers=OCTET
    )


def stored_files(folder: Path) -> list[Path]:
    """Every file under the blob store's folder, spool included."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def dataset_rows(session: Session) -> int:
    """Dataset versions in the store, of every project."""
    return int(session.scalar(select(func.count()).select_from(Dataset)) or 0)


def csv_bytes(rows: int = 30, seed: int = 0) -> bytes:
    """Two numeric features and a string label (`species`) over three classes."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "f1": rng.normal(size=rows).round(4),
            "species": np.array(["setosa", "versicolor", "virginica"])[np.arange(rows) % 3],
            "f2": rng.normal(size=rows).round(4),
        }
    )
    return table.to_csv(index=False).encode()


def parquet_bytes(rows: int = 24) -> bytes:
    """Three float features and an integer label column named `label`."""
    table = pd.DataFrame({f"f{i}": RNG.normal(size=rows) for i in range(3)})
    table["label"] = np.arange(rows) % 2
    buffer = io.BytesIO()
    table.to_parquet(buffer)
    return buffer.getvalue()


def npz_bytes(folder: Path, test_split: bool, examples: int = 40) -> bytes:
    """x of 4x4 examples over four integer classes; with `test_split`, x_test/y_test of 12."""
    arrays = {"x": RNG.normal(size=(examples, 4, 4)), "y": np.arange(examples) % 4}
    if test_split:
        arrays |= {"x_test": RNG.normal(size=(12, 4, 4)), "y_test": np.arange(12) % 4}
    return write_npz(folder / "upload.npz", **arrays).read_bytes()


def image_zip_bytes(folder: Path, channels: int | None) -> bytes:
    """Class folders `cat/` and `dog/` of 6x5 PNGs: grayscale (None) or RGB (3)."""
    shape = (6, 5) if channels is None else (6, 5, channels)
    classes = ["cat", "dog"] * 3
    members = {
        f"{c}/{i}.png": image_bytes(RNG.integers(0, 256, shape)) for i, c in enumerate(classes)
    }
    return write_zip(folder / "upload.zip", members).read_bytes()
