"""Blobs behind an fsspec URL: a local folder, or `s3://bucket/prefix` through s3fs.

Content-addressed blobs live at `<prefix>/sha256/<aa>/<digest>` (datasets, artifacts); named
objects, which a later write replaces, at `<prefix>/named/<key>` (checkpoints). S3 endpoint and
credentials come from the standard AWS variables (`AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`,
...) or from `storage_options` passed through to s3fs.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from models.blobs.refs import BlobNotFoundError, BlobRef, check_digest, check_key
from models.blobs.writer import BlobWriter
from models.settings import Settings, owner_only_folder

CHUNK_BYTES = 2**20
# s3fs defaults to 50 MiB parts, 10 at once (each part is held twice while it is sent: 1 GB
# per upload), and to 50 MiB read-ahead blocks (a reader holds about three). One 8 MiB part at a
# time bounds an upload to ~17 MiB; 4 MiB blocks bound a reader to ~15 MiB.
PART_BYTES = 8 * 2**20
PART_CONCURRENCY = 1
READ_BLOCK_BYTES = 4 * 2**20


class BlobStore:
    """Content-addressed (sha256) blobs and named objects under one fsspec URL."""

    def __init__(self, url: str, *, spool_dir: Path | None = None, **storage_options: Any) -> None:
        """Open the store at `url`; remote stores spool uploads in `spool_dir` (default: tmp)."""
        # Other processes add and delete objects: a cached listing would go stale.
        storage_options.setdefault("use_listings_cache", False)
        self.url = url
        self.fs, root = fsspec.url_to_fs(url, **storage_options)
        self._root = root.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)
        if self._local:
            # In the store's own folder, so that a finished upload is renamed into place.
            spool_dir = owner_only_folder(Path(self._root)) / ".spool"
        self._spool_dir = owner_only_folder(spool_dir or Path(tempfile.gettempdir()))

    def writer(self, *, max_bytes: int) -> BlobWriter:
        """A writer to feed chunk by chunk; use it in a `with` block and `commit()` it."""
        return BlobWriter(self._spool_dir, max_bytes, self._publish_blob)

    def put(self, stream: BinaryIO | Iterable[bytes], *, max_bytes: int) -> BlobRef:
        """Store a file object's or an iterable's bytes, streamed; BlobTooLargeError past max."""
        chunks = iter(partial(stream.read, CHUNK_BYTES), b"") if hasattr(stream, "read") else stream
        with self.writer(max_bytes=max_bytes) as writer:
            for chunk in cast(Iterable[bytes], chunks):
                writer.write(chunk)
            return writer.commit()

    def put_bytes(self, data: bytes) -> BlobRef:
        """Store `data` (already in memory, so no bound applies)."""
        return self.put([data], max_bytes=len(data))

    def open(self, digest: str) -> BinaryIO:
        """The blob's content, to read (and close); BlobNotFoundError if it is not stored."""
        return self._open(self._blob_key(digest), f"blob sha256:{digest}")

    def download(self, digest: str, dest: Path) -> None:
        """Write the blob into the local file `dest`, in one streamed GET on S3."""
        try:
            self.fs.get_file(self._blob_key(digest), str(dest), max_concurrency=PART_CONCURRENCY)
        except FileNotFoundError:
            raise self._missing(f"blob sha256:{digest}") from None

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        return bool(self.fs.exists(self._blob_key(digest)))

    def size(self, digest: str) -> int:
        """The blob's size in bytes; BlobNotFoundError if it is not stored."""
        try:
            return int(self.fs.size(self._blob_key(digest)))
        except FileNotFoundError:
            raise self._missing(f"blob sha256:{digest}") from None

    def delete(self, digest: str) -> None:
        """Remove the blob (a no-op if it is gone); whoever else refers to it loses it too."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._blob_key(digest))

    def put_named(self, key: str, source: Path) -> None:
        """Store the file `source` under `key`, replacing what was there in one step."""
        self._publish(source, self._named_key(key), move=False)

    def open_named(self, key: str) -> BinaryIO:
        """The named object's content; BlobNotFoundError if there is none."""
        return self._open(self._named_key(key), f"object {key!r}")

    def list_named(self, prefix: str) -> list[str]:
        """The keys of every named object under `prefix/`, sorted (none: an empty list)."""
        base = self._named_key(prefix) + "/"
        # fsspec names local files by absolute path and S3 objects as bucket/key, as `_root`.
        found = [str(path) for path in self.fs.find(base)]
        return sorted(f"{prefix}/{path[len(base) :]}" for path in found if path.startswith(base))

    def delete_prefix(self, prefix: str) -> None:
        """Remove `prefix` and every named object under `prefix/` (a no-op if none)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._named_key(prefix), recursive=True)

    def _blob_key(self, digest: str) -> str:
        return f"{self._root}/sha256/{check_digest(digest)[:2]}/{digest}"

    def _named_key(self, key: str) -> str:
        return f"{self._root}/named/{check_key(key)}"

    def _missing(self, what: str) -> BlobNotFoundError:
        return BlobNotFoundError(f"no {what} in the blob store {self.url}")

    def _open(self, key: str, what: str) -> BinaryIO:
        try:
            return cast(BinaryIO, self.fs.open(key, "rb", block_size=READ_BLOCK_BYTES))
        except FileNotFoundError:
            raise self._missing(what) from None

    def _publish_blob(self, spool: Path, ref: BlobRef) -> None:
        key = self._blob_key(ref.sha256)
        if not self.fs.exists(key):  # same content, same key: stored once
            self._publish(spool, key, move=True)

    def _publish(self, source: Path, key: str, *, move: bool) -> None:
        """Put a local file at `key` all at once: a rename here, one PUT (or multipart) on S3."""
        if not self._local:
            self.fs.put_file(
                str(source), key, chunksize=PART_BYTES, max_concurrency=PART_CONCURRENCY
            )
            return
        folder = owner_only_folder(Path(key).parent)
        if move:
            _sync_file(source)
            os.replace(source, key)
        else:
            fd, spool = tempfile.mkstemp(dir=self._spool_dir, prefix="named-")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                    shutil.copyfileobj(src, out, CHUNK_BYTES)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(spool, key)
            finally:
                Path(spool).unlink(missing_ok=True)
        _sync_file(folder)  # the rename itself survives a power cut


def _sync_file(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk: published means durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def blob_store(settings: Settings) -> BlobStore:
    """The deployment's store: `REGLAB_STORAGE_URL`, or the folder `<home>/blobs`."""
    return BlobStore(settings.resolved_storage_url(), spool_dir=settings.home.resolve() / "spool")
