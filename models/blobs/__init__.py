"""One blob store for datasets, artifacts and checkpoints, and the workers' local cache of it.

    store = blob_store(get_settings())           # REGLAB_STORAGE_URL, or <home>/blobs
    ref = store.put(request_body, max_bytes=...)  # streamed, sha256-addressed, deduplicated
    with store.open(ref.sha256) as f: ...
    cache = BlobCache(store, folder, max_bytes)   # a worker's local copies
    with cache.open(ref.sha256) as f: ...         # or cache.path(digest), a local file

An upload fed chunk by chunk (an async route) uses `store.writer(max_bytes=...)` instead of
`put`, and may validate the file `writer.spooled()` before `writer.commit()`.
"""

from models.blobs.cache import BlobCache
from models.blobs.refs import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobRef,
    BlobTooLargeError,
    check_digest,
    check_key,
)
from models.blobs.store import BlobStore, blob_store
from models.blobs.writer import BlobWriter

__all__ = [
    "BlobCache",
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobRef",
    "BlobStore",
    "BlobTooLargeError",
    "BlobWriter",
    "blob_store",
    "check_digest",
    "check_key",
]
