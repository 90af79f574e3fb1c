"""A worker's local copies of blobs, by digest, bounded in bytes, least recently used out first.

Safe for several processes on one host sharing the folder. Each digest has a lock file
(filelock), held while its copy is checked, fetched or opened; a download lands in a temporary
file renamed into place once its sha256 checks. Evictions take one lock for the whole cache,
and a download reserves its room under it (its temporary file is named with its full size),
so the bound holds with downloads in flight. An evicted file goes only if its own lock is free
and it was not used since it was listed. A file opened under its lock (`open`) is never lost:
on POSIX an open file outlives its removal.
"""

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

from filelock import FileLock, Timeout

from models.blobs.refs import BlobCorruptError, BlobTooLargeError, check_digest
from models.blobs.store import BlobStore
from models.settings import owner_only_folder


class _Entry(NamedTuple):
    used_ns: int
    path: Path
    size: int


class BlobCache:
    """Local files of a store's blobs under `folder`, at most `max_bytes` of them in all."""

    def __init__(self, store: BlobStore, folder: Path, max_bytes: int) -> None:
        """Cache `store`'s blobs in `folder` (created owner-only)."""
        self.store = store
        self.max_bytes = max_bytes
        self._files = owner_only_folder(folder / "sha256")
        self._locks = owner_only_folder(folder / "locks")
        self._tmp = owner_only_folder(folder / "tmp")

    def path(self, digest: str) -> Path:
        """A local file holding the blob, downloaded if missing or damaged; open it right away.

        The file is checked against its digest on every call (about 1 s per GB), so a damaged
        copy is fetched again. It stays until evicted, least recently used first: with other
        processes on the same cache that may be soon; `open` is the form that cannot lose it.
        """
        with self._lock(check_digest(digest)):
            return self._ready(digest)

    def open(self, digest: str) -> BinaryIO:
        """The blob's local copy, opened for reading: an eviction cannot take an open file."""
        with self._lock(check_digest(digest)):
            return self._ready(digest).open("rb")

    @contextmanager
    def held(self, digest: str) -> Iterator[Path]:
        """The blob's local copy, kept from eviction until the block ends.

        For readers that need a path and open it more than once (an NPZ's headers, then its
        arrays): the digest's lock is held throughout, so no process sharing the cache evicts
        the file in between, and fetching the same blob elsewhere waits.
        """
        with self._lock(check_digest(digest)):
            yield self._ready(digest)

    def _ready(self, digest: str) -> Path:
        """The intact local copy, fetched if need be and marked as just used (under its lock)."""
        target = self._files / digest
        if _sha256(target) != digest:
            target.unlink(missing_ok=True)  # a damaged copy: out of the count before evicting
            self._fetch(digest, target)
        now = time.time_ns()  # the LRU order is the mtime, set here to the nanosecond
        os.utime(target, ns=(now, now))
        return target

    def _lock(self, digest: str) -> FileLock:
        return FileLock(self._locks / f"{digest}.lock", mode=0o600)

    def _fetch(self, digest: str, target: Path) -> None:
        size = self.store.size(digest)
        if size > self.max_bytes:
            raise BlobTooLargeError(f"blob sha256:{digest} ({size} bytes)", self.max_bytes)
        with FileLock(self._locks / "evict.lock", mode=0o600):
            self._evict(room_for=size)
            # Named with its size: its room is counted by evictions until it lands.
            fd, name = tempfile.mkstemp(dir=self._tmp, prefix=f"{digest}-{size}-")  # 0600
        os.close(fd)
        spool = Path(name)
        try:
            self.store.download(digest, spool)
            if (got := _sha256(spool)) != digest:
                raise BlobCorruptError(
                    f"blob sha256:{digest} in {self.store.url} reads back as sha256:{got}"
                )
            os.replace(spool, target)
        finally:
            spool.unlink(missing_ok=True)

    def _evict(self, *, room_for: int) -> None:
        """Remove least recently used files until `room_for` more bytes fit under the bound."""
        # Downloads in flight hold their digest's lock; a temporary file without is a dead one's.
        # Listed before the cached files: a download landing meanwhile counts twice, never zero.
        pending = [e for e in _entries(self._tmp) if not self._remove_unused(e, e.path.name[:64])]
        cached = sorted(_entries(self._files))
        total = sum(int(e.path.name.split("-")[1]) for e in pending)
        total += sum(e.size for e in cached)
        for entry in cached:
            if total + room_for <= self.max_bytes:
                return
            if self._remove_unused(entry, entry.path.name, listed=True):
                total -= entry.size

    def _remove_unused(self, entry: _Entry, digest: str, *, listed: bool = False) -> bool:
        """Remove the file unless its digest is locked or (`listed`) it was used since."""
        lock = self._lock(digest)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            return False
        try:
            if listed and entry.path.stat().st_mtime_ns != entry.used_ns:
                return False
            entry.path.unlink()
        except FileNotFoundError:
            # A cached file gone (a damaged copy) frees its room; a temporary one has landed.
            return listed
        finally:
            lock.release()
        return True


def _sha256(path: Path) -> str | None:
    """The sha256 of the file's content, or None if there is no such file."""
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def _entries(folder: Path) -> list[_Entry]:
    """The cached files, with their last use and size (files removed meanwhile left out)."""
    found = []
    for path in folder.iterdir():
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append(_Entry(stat.st_mtime_ns, path, stat.st_size))
    return found
