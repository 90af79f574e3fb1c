"""Blob garbage: remove blobs that no dataset version or artifact refers to."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.blobs import BlobStore


def collect_unused(sessions: sessionmaker[Any], blobs: BlobStore, digests: Iterable[str]) -> None:
    """Remove each blob unless a dataset version or an artifact (of any project) refers to it.

    Without a lock across the store and the blobs, a write of the same bytes committing in
    the same instant can lose its blob; its readers then say the data is gone.
    """
    with sessions() as session:
        unused = {d for d in digests if not store.blob_in_use(session=session, sha256=d)}
    for digest in unused:
        blobs.delete(digest)
