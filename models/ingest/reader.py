"""The entry points: read (or only check) an uploaded file that is already on local disk."""

from collections.abc import Callable
from pathlib import Path

from models.ingest.base import FORMAT, FORMATS, LABEL, Format, IngestError, body_error
from models.ingest.dataset import DatasetSummary, IngestedDataset, Reading
from models.ingest.images import read_image_zip
from models.ingest.limits import IngestLimits
from models.ingest.npz import read_npz
from models.ingest.table import read_csv, read_parquet

DEFAULT_LABEL = "label"


def read_dataset(
    path: Path, format: Format, *, label: str | None = None, limits: IngestLimits
) -> IngestedDataset:
    """The file's examples as float32 arrays with labels 0..k-1; IngestError naming the problem.

    `label` names the label column of a CSV or Parquet file ("label" when None).
    """
    reading = Reading(limits, keep=True)
    _read(path, format, label, reading)
    return reading.dataset()


def inspect_dataset(
    path: Path, format: Format, *, label: str | None = None, limits: IngestLimits
) -> DatasetSummary:
    """Every check of `read_dataset` and the same summary, holding one batch at a time.

    What an upload calls: memory stays bounded by a batch (a CSV or Parquet batch, one NPZ
    array, a block of images) instead of growing with the dataset.
    """
    reading = Reading(limits, keep=False)
    _read(path, format, label, reading)
    return reading.summary()


def _read(path: Path, format: Format, label: str | None, reading: Reading) -> None:
    """Check the request's format and the file's size, then hand the file to its reader."""
    readers: dict[str, Callable[[], None]] = {
        "npz": lambda: read_npz(path, reading, reading.limits),
        "csv": lambda: read_csv(path, reading, reading.limits, label or DEFAULT_LABEL),
        "parquet": lambda: read_parquet(path, reading, reading.limits, label or DEFAULT_LABEL),
        "image_zip": lambda: read_image_zip(path, reading, reading.limits),
    }
    if format not in readers:
        raise IngestError(FORMAT, f"unknown format {format!r}; formats are {', '.join(FORMATS)}")
    if label is not None and format not in ("csv", "parquet"):
        raise IngestError(LABEL, f"label names a CSV or Parquet column; format {format} has none")
    size = path.stat().st_size
    if size == 0:
        raise body_error("the file is empty")
    reading.limits.check("max_bytes", size, "file bytes")
    readers[format]()
