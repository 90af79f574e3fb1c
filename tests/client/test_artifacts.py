"""Artifacts are downloaded into a folder, each checked against its sha256."""

import hashlib
from pathlib import Path

import httpx
import pytest
from reglab_client import ReglabError

from tests.client.mock import Handler, mocked

WEIGHTS = b"\x00\x01" * 40_000


def listing(sha256: str) -> list[dict[str, object]]:
    return [{"name": "model.safetensors", "bytes": len(WEIGHTS), "sha256": sha256,
             "url": "/runs/3/artifacts/model.safetensors"}]  # fmt: skip


def api(sha256: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/runs/3/artifacts":
            return httpx.Response(200, json=listing(sha256))
        return httpx.Response(200, content=WEIGHTS)

    return handler


def test_every_file_lands_in_the_folder_with_its_bytes(tmp_path: Path) -> None:
    client, _ = mocked(api(hashlib.sha256(WEIGHTS).hexdigest()))
    paths = client.artifacts.download(3, tmp_path / "out")
    assert paths == [tmp_path / "out" / "model.safetensors"]
    assert paths[0].read_bytes() == WEIGHTS
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.safetensors"]


def test_bytes_that_do_not_match_the_hash_are_not_kept(tmp_path: Path) -> None:
    client, _ = mocked(api("0" * 64))
    with pytest.raises(ReglabError, match="do not match its sha256"):
        client.artifacts.download(3, tmp_path)
    assert list(tmp_path.iterdir()) == []
