"""A worker's blob cache: downloaded once, checked, bounded, shared by processes on one host."""

import hashlib
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from models.blobs import (
    BlobCache,
    BlobCorruptError,
    BlobNotFoundError,
    BlobStore,
    BlobTooLargeError,
)


def cached(cache_folder: Path) -> set[str]:
    """Digests of the files in the cache."""
    return {p.name for p in (cache_folder / "sha256").iterdir()}


def test_downloaded_once_owner_only(blobs: BlobStore, tmp_path: Path) -> None:
    ref = blobs.put_bytes(b"a dataset")
    cache = BlobCache(blobs, tmp_path / "cache", max_bytes=10**6)
    path = cache.path(ref.sha256)
    assert path.read_bytes() == b"a dataset"
    blobs.delete(ref.sha256)  # a second call must not need the store
    assert cache.path(ref.sha256) == path
    assert path.read_bytes() == b"a dataset"
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode) for p in [path, path.parent, tmp_path / "cache"]
    }
    assert modes == {path.name: 0o600, "sha256": 0o700, "cache": 0o700}


def test_least_recently_used_go_first_under_the_bound(blobs: BlobStore, tmp_path: Path) -> None:
    a, b, c, d = (blobs.put_bytes(bytes([i]) * 1000).sha256 for i in range(4))
    cache = BlobCache(blobs, tmp_path / "cache", max_bytes=3000)
    for digest in [a, b, c, a, d]:
        cache.path(digest)
    assert cached(tmp_path / "cache") == {a, c, d}
    cache.path(b)
    assert cached(tmp_path / "cache") == {a, d, b}


def test_an_open_copy_outlives_its_eviction(blobs: BlobStore, tmp_path: Path) -> None:
    first, *others = (blobs.put_bytes(bytes([i]) * 1000).sha256 for i in range(3))
    cache = BlobCache(blobs, tmp_path / "cache", max_bytes=2000)
    with cache.open(first) as file:
        for digest in others:
            cache.path(digest)
        assert first not in cached(tmp_path / "cache")
        assert file.read() == bytes([0]) * 1000


def test_a_held_copy_is_not_evicted_by_another_process(blobs: BlobStore, tmp_path: Path) -> None:
    first, *others = (blobs.put_bytes(bytes([i]) * 1000).sha256 for i in range(3))
    mine = BlobCache(blobs, tmp_path / "cache", max_bytes=2000)
    theirs = BlobCache(blobs, tmp_path / "cache", max_bytes=2000)  # its own locks, like a process
    with mine.held(first) as path:
        for digest in others:
            theirs.path(digest)
        assert first in cached(tmp_path / "cache")
        assert path.read_bytes() == bytes([0]) * 1000  # opened a second time, still there
    theirs.path(others[0])
    assert first not in cached(tmp_path / "cache")  # released: least recently used goes


def test_a_damaged_copy_is_fetched_again(blobs: BlobStore, tmp_path: Path) -> None:
    ref = blobs.put_bytes(b"the real content")
    cache = BlobCache(blobs, tmp_path / "cache", max_bytes=10**6)
    path = cache.path(ref.sha256)
    path.write_bytes(b"the bad content!")  # same size: only the digest tells
    assert cache.path(ref.sha256).read_bytes() == b"the real content"


def test_what_cannot_be_cached_leaves_nothing(blobs: BlobStore, tmp_path: Path) -> None:
    cache = BlobCache(blobs, tmp_path / "cache", max_bytes=100)
    missing = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(BlobNotFoundError, match=missing):
        cache.path(missing)
    big = blobs.put_bytes(b"x" * 101).sha256
    with pytest.raises(BlobTooLargeError, match=f"blob sha256:{big} \\(101 bytes\\) is larger"):
        cache.path(big)
    stored = blobs.put_bytes(b"stored").sha256
    with blobs.fs.open(f"{blobs.url}/sha256/{stored[:2]}/{stored}", "wb") as key:
        key.write(b"bitrot")  # the store's copy no longer matches its name
    with pytest.raises(BlobCorruptError, match=f"sha256:{stored} in .* reads back as sha256:"):
        cache.path(stored)
    # Only the empty lock files stay, one per digest asked for (and the evictions' own).
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".lock"] == []


def fetch_all(
    url: str, options: dict[str, Any], folder: Path, digests: list[str], rounds: int
) -> list[str]:
    """In a process of its own: open every digest `rounds` times, reading each file back."""
    cache = BlobCache(BlobStore(url, **options), folder, max_bytes=3 * 1000)
    wrong = []
    for _ in range(rounds):
        for digest in digests:
            with cache.open(digest) as file:
                if hashlib.file_digest(file, "sha256").hexdigest() != digest:
                    wrong.append(digest)
    return wrong


def test_two_processes_share_one_cache(blobs: BlobStore, tmp_path: Path) -> None:
    digests = [blobs.put_bytes(os.urandom(1000)).sha256 for _ in range(5)]
    options = {k: v for k, v in blobs.fs.storage_options.items() if k != "use_listings_cache"}
    jobs = [
        (blobs.url, options, tmp_path / "cache", order, 20) for order in [digests, digests[::-1]]
    ]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert pool.starmap(fetch_all, jobs) == [[], []]
    left = cached(tmp_path / "cache")
    assert left <= set(digests) and 1 <= len(left) <= 3  # 1000 bytes each, bound 3000
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
