"""An upload in progress: chunks go to a local spool file, hashed and counted as they pass."""

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from models.blobs.refs import BlobRef, BlobTooLargeError

Publish = Callable[[Path, BlobRef], None]


class BlobWriter:
    """Write chunks, then `commit()`; leaving the `with` block uncommitted discards everything.

    Chunk by chunk, so an async route can feed it from `request.stream()` and hand only
    `commit()` to a thread. `spooled()` is the file to read (validate) before the commit.
    """

    def __init__(self, spool_dir: Path, max_bytes: int, publish: Publish) -> None:
        fd, name = tempfile.mkstemp(dir=spool_dir, prefix="put-")  # mode 0600
        self._spool = Path(name)
        self.size = 0
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._max_bytes = max_bytes
        self._publish = publish

    def write(self, chunk: bytes) -> None:
        """Append `chunk`; past `max_bytes` the spool is removed and BlobTooLargeError raised."""
        self.size += len(chunk)
        if self.size > self._max_bytes:
            self.discard()
            raise BlobTooLargeError("blob", self._max_bytes)
        self._hash.update(chunk)
        self._file.write(chunk)

    def spooled(self) -> Path:
        """The local file holding everything written so far (read it; do not move it)."""
        self._file.flush()
        return self._spool

    def commit(self) -> BlobRef:
        """Store the content under its sha256 (unless it is there already) and return its ref."""
        self._file.close()
        ref = BlobRef(self._hash.hexdigest(), self.size)
        try:
            self._publish(self._spool, ref)
        finally:
            self._spool.unlink(missing_ok=True)
        return ref

    def discard(self) -> None:
        """Drop what was written; nothing is stored."""
        self._file.close()
        self._spool.unlink(missing_ok=True)

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()  # after a commit the spool is gone already: a no-op
