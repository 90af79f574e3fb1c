"""Uploaded datasets as a worker loads them: from its blob cache, read and split like built-ins."""

from functools import lru_cache
from typing import cast

from models.blobs import BlobCache, BlobNotFoundError, blob_store
from models.ingest import Format, get_ingest_limits, read_dataset
from models.spec import DatasetSpec
from models.spec.catalog import BUILTIN_DATASETS
from models.store.datasets import DatasetRef
from workers.datasets import DatasetArrays, load_dataset, split_dataset
from workers.settings import get_settings


@lru_cache(maxsize=2)
def _load(spec: DatasetSpec, ref: DatasetRef, cache: BlobCache) -> DatasetArrays:
    # Held while read: another process sharing the cache cannot evict it in between.
    with cache.held(ref.sha256) as path:
        data = read_dataset(
            path, cast(Format, ref.format), label=ref.label or None, limits=get_ingest_limits()
        )
    test = (
        (data.x_test, data.y_test) if data.x_test is not None and data.y_test is not None else None
    )
    return split_dataset(data.x, data.y, spec, tuple(data.class_names), test)


def load_uploaded(spec: DatasetSpec, ref: DatasetRef, cache: BlobCache) -> DatasetArrays:
    """The uploaded dataset `ref`, split and standardized as `spec` says.

    Cached per process, like the built-in datasets: a search on one upload reads it once.
    """
    return _load(spec, ref, cache)


class DatasetMissingError(Exception):
    """The uploaded dataset version a run names is no longer stored."""


@lru_cache
def worker_blob_cache() -> BlobCache:
    """This process's cache of the blob store (`REGLAB_BLOB_CACHE_DIR`, bounded in bytes)."""
    settings = get_settings()
    folder = settings.resolved_blob_cache_dir()
    return BlobCache(blob_store(settings), folder, settings.blob_cache_max_bytes)


def run_data(spec: DatasetSpec, stored: DatasetRef | None) -> DatasetArrays:
    """The data a run trains on: built in, or the uploaded version `stored` its spec names."""
    if spec.name in BUILTIN_DATASETS:
        return load_dataset(spec)
    if stored is None:
        version = f" version {spec.version}" if spec.version else ""
        raise DatasetMissingError(f"dataset {spec.name!r}{version} is no longer stored")
    try:
        return load_uploaded(spec, stored, worker_blob_cache())
    except BlobNotFoundError as exc:
        raise DatasetMissingError(f"dataset {spec.name!r} version {stored.version}: {exc}") from exc
