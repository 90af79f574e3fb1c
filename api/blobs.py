"""The API's blob store: one per process, where uploads (and artifacts) are kept."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from api.settings import get_settings
from models.blobs import BlobStore, blob_store


@lru_cache
def get_blob_store() -> BlobStore:
    """This process's blob store: `REGLAB_STORAGE_URL`, or the folder `<home>/blobs`."""
    return blob_store(get_settings())


BlobStoreDep = Annotated[BlobStore, Depends(get_blob_store)]
