"""The blob store's suite runs over a local folder and over a real S3-compatible server."""

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.blobs import BlobStore
from tests.conftest import unavailable
from tests.models.blobs.s3server import BUCKET, S3Server, moto_server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's standalone server for the whole session (dev extras: `moto[server]`)."""
    if importlib.util.find_spec("moto") is None:
        unavailable("moto (pip install -e '.[dev]')")
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """An empty store: a folder, or a fresh prefix of the test bucket with its own spool."""
    if request.param == "local":
        return BlobStore(str(tmp_path / "blobs"))
    server: S3Server = request.getfixturevalue("s3_server")
    url = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    return BlobStore(url, spool_dir=tmp_path / "spool", **server.options)
