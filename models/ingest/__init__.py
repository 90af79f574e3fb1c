"""Uploaded datasets read safely: NPZ, CSV, Parquet and zips of class folders of images.

`inspect_dataset(path, format, limits=...)` checks a file already on local disk and returns
its `DatasetSummary` (input shape, classes and counts, the `DatasetShape` that `resolve`
needs) holding one batch at a time: what an upload calls before it stores the file.
`read_dataset` runs the same checks and also returns the arrays (`IngestedDataset`): what a
worker calls on the stored file. Every refusal is an `IngestError(loc, message)`; archives
and headers are checked before anything is allocated, and nothing is ever unpickled.
"""

from models.ingest.base import FORMATS, Format, IngestError
from models.ingest.dataset import DatasetSummary, IngestedDataset
from models.ingest.limits import IngestLimits, get_ingest_limits
from models.ingest.reader import inspect_dataset, read_dataset

__all__ = [
    "FORMATS",
    "DatasetSummary",
    "Format",
    "IngestError",
    "IngestLimits",
    "IngestedDataset",
    "get_ingest_limits",
    "inspect_dataset",
    "read_dataset",
]
