"""Datasets: upload a file (streamed, never read whole into memory), list, read, delete."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, cast

import httpx

from reglab_client.http import Http, query
from reglab_client.pages import Pager
from reglab_client.types import BuiltinDataset, Dataset, DatasetList, Page, UploadedDataset

Format = Literal["npz", "csv", "parquet", "image_zip"]
FORMATS: dict[str, Format] = {
    ".npz": "npz",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".zip": "image_zip",
}
CHUNK = 1 << 20
# The API checks a whole file before it answers: minutes for one near its size bound. A read
# timeout shorter than that would send the file again while the first copy is being checked.
UPLOAD_READ_TIMEOUT = 600.0


class FileChunks:
    """A file's bytes in chunks, read anew on each iteration: a retried upload resends it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


def format_of(path: Path) -> Format:
    """The upload format a file's suffix names; ValueError if it names none."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(FORMATS)
        raise ValueError(f"{path.name}: cannot tell its format from its suffix ({known})") from None


class Datasets:
    """`client.datasets`: the built-in catalog and the project's uploaded versions."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def upload(
        self,
        path: str | os.PathLike[str],
        name: str,
        *,
        format: Format | None = None,
        label: str | None = None,
    ) -> Dataset:
        """Upload a file as the next version of `name` (format from its suffix unless given;
        `label`: the label column of a CSV or Parquet file); the same bytes again return the
        version that holds them."""
        file = Path(path)
        params = query(name=name, format=format or format_of(file), label=label)
        headers = {
            "Content-Type": "application/octet-stream",
            # Declared, so that the API refuses a file over its bound before it is sent.
            "Content-Length": str(file.stat().st_size),
        }
        timeout = httpx.Timeout(self._http.client.timeout.connect, read=UPLOAD_READ_TIMEOUT)
        response = self._http.json(
            "POST",
            "/datasets",
            params=params,
            headers=headers,
            content=FileChunks(file),
            timeout=timeout,
            idempotent=True,  # the same bytes under the same name are the same version
            after_timeout=False,  # ten minutes on: sending it again would not be quicker
        )
        return cast(Dataset, response)

    def builtin(self) -> list[BuiltinDataset]:
        """The built-in datasets, with their parameters and shapes."""
        page = cast(DatasetList, self._http.json("GET", "/datasets", params={"limit": 1}))
        return page["builtin"]

    def get(self, dataset_id: int) -> Dataset:
        """One uploaded version in full: classes, splits, and every version of its name."""
        return cast(Dataset, self._http.json("GET", f"/datasets/{dataset_id}"))

    def delete(self, dataset_id: int) -> None:
        """Delete an uploaded version (ConflictError while queued or running runs use it)."""
        self._http.request("DELETE", f"/datasets/{dataset_id}")

    # Last in the class: below it, `list` would name this method, not the builtin type.
    def list(self, *, page_size: int = 100) -> Pager[UploadedDataset]:
        """Every uploaded version, newest first, fetched page by page."""

        def fetch(cursor: str | None) -> Page[UploadedDataset]:
            params = query(limit=page_size, cursor=cursor)
            page = cast(DatasetList, self._http.json("GET", "/datasets", params=params))
            return {k: page[k] for k in ("items", "total", "next_cursor")}  # type: ignore[return-value]

        return Pager(fetch)
