"""CSV and Parquet uploads: a label column and numeric features, read a batch at a time.

pyarrow parses both (CSV as a stream of blocks, Parquet by row groups), so memory holds one
batch of text or column chunks at a time, never the whole file as Python objects.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from models.ingest.base import LABEL, IngestError, body_error
from models.ingest.dataset import Labels, Reading, first_nonfinite
from models.ingest.limits import MIB, IngestLimits

# pyarrow's streaming CSV reader reads up to 32 blocks ahead, so memory is about 32 blocks;
# a block must hold a whole row, so a wide file (judged by its header) gets larger blocks.
CSV_BLOCK_BYTES = (MIB // 2, 16 * MIB)
PARQUET_BATCH_ROWS = 16_384
# Parquet decodes one page per column at a time when it is not asked to buffer whole row
# groups (pre_buffer): memory grows with columns x page size, not with the file.
PARQUET_OPTIONS: dict[str, Any] = {"pre_buffer": False, "buffer_size": MIB // 4}
NAMES_SHOWN = 20  # columns listed in an error message
LABEL_TYPES = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string)
CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to \w+: invalid value '(.*)'")


def read_csv(path: Path, reading: Reading, limits: IngestLimits, label: str) -> None:
    """Read a CSV file with a header row: the label column as text, every other as a number."""
    names: list[str] = []
    read = _csv_options(path)
    try:
        with pa_csv.open_csv(path, read_options=read) as reader:
            names = reader.schema.names
        features = _features_of(names, label, limits)
        types = {name: pa.float64() for name in features} | {label: pa.string()}
        # Only an empty cell is missing: "nan" and "inf" parse as the numbers they name.
        convert = pa_csv.ConvertOptions(column_types=types, null_values=[""])
        with pa_csv.open_csv(path, read_options=read, convert_options=convert) as reader:
            _read_batches(reader, features, label, reading)
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        raise _csv_error(exc, names) from None


def read_parquet(path: Path, reading: Reading, limits: IngestLimits, label: str) -> None:
    """Read a Parquet file: its footer checked against the bounds, then one batch at a time."""
    try:
        parquet = pq.ParquetFile(path, **PARQUET_OPTIONS)
    except (pa.ArrowException, OSError) as exc:
        raise body_error(f"not a readable Parquet file, or a truncated one: {exc}") from None
    with parquet:
        schema = parquet.schema_arrow
        features = _features_of(schema.names, label, limits)
        _check_parquet_types(schema, features, label)
        _check_parquet_sizes(parquet.metadata, len(features), limits)
        columns = [*features, label]
        # One thread: on a shared API host, pyarrow's pool of threads costs memory, not time.
        batches = parquet.iter_batches(PARQUET_BATCH_ROWS, columns=columns, use_threads=False)
        try:
            _read_batches(batches, features, label, reading)
        except (pa.ArrowException, OSError) as exc:
            raise body_error(f"the Parquet file could not be read: {exc}") from None


def _csv_options(path: Path) -> pa_csv.ReadOptions:
    """Blocks of 8 header lengths (a row is rarely much longer), within CSV_BLOCK_BYTES."""
    smallest, largest = CSV_BLOCK_BYTES
    with path.open("rb") as file:
        header = len(file.readline(largest))
    return pa_csv.ReadOptions(block_size=min(max(smallest, 8 * header), largest))


def _csv_error(exc: Exception, names: list[str]) -> IngestError:
    """pyarrow's CSV error, with the column's name when it is a value that is not a number."""
    found = CONVERSION.search(str(exc))
    if found and int(found[1]) < len(names):
        column, value = names[int(found[1])], found[2]
        return body_error(f"feature {column!r} holds {value!r}, which is not a number")
    return body_error(f"not a readable CSV file with a header row: {exc}")


def _listed(names: list[str]) -> str:
    """Column names for a message, the first few of a long list."""
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown if len(names) <= NAMES_SHOWN else f"{shown}, ... ({len(names):,} in all)"


def _features_of(names: list[str], label: str, limits: IngestLimits) -> list[str]:
    """The feature columns: every column but the label, which must be there."""
    if label not in names:
        raise IngestError(LABEL, f"column {label!r} not found; columns are {_listed(names)}")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise body_error(f"column {name!r} appears twice in the header")
        seen.add(name)
    features = [name for name in names if name != label]
    if not features:
        raise body_error(f"no feature columns: the only column is the label {label!r}")
    limits.check("max_features", len(features), "feature columns")
    return features


def _check_parquet_types(schema: pa.Schema, features: list[str], label: str) -> None:
    """Numeric features; an integer or string label (dictionary-encoded or not)."""
    for name in features:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise body_error(f"feature {name!r} has type {kind}; features must be numbers")
    kind = schema.field(label).type
    kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    if not any(is_kind(kind) for is_kind in LABEL_TYPES):
        raise body_error(f"label column {label!r} has type {kind}; labels are integers or strings")


def _check_parquet_sizes(metadata: Any, n_features: int, limits: IngestLimits) -> None:
    """The footer's row count and uncompressed sizes against the bounds, before any read."""
    limits.check("max_examples", metadata.num_rows, "rows")
    limits.check("max_values", metadata.num_rows * n_features, "input values")
    groups = (metadata.row_group(i) for i in range(metadata.num_row_groups))
    uncompressed = sum(group.total_byte_size for group in groups)
    limits.check("max_uncompressed_bytes", uncompressed, "uncompressed bytes of the row groups")


def _read_batches(
    batches: Iterable[pa.RecordBatch], features: list[str], label: str, reading: Reading
) -> None:
    """Each batch's features as float32 and its labels, refused for a gap or a non-finite value."""
    row = 0  # rows count from 1, the header excluded
    for batch in batches:
        codes = _labels(batch.column(label), label, row, reading)
        x = np.empty((batch.num_rows, len(features)), dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            for j, name in enumerate(features):
                column = batch.column(name)
                if column.null_count:
                    gap = row + _first_null(column) + 1
                    raise body_error(f"feature {name!r} is empty in row {gap}")
                x[:, j] = column.to_numpy(zero_copy_only=False)
        bad = first_nonfinite(x)
        if bad is not None:
            name = features[bad[1]]
            value = batch.column(name)[bad[0]].as_py()
            raise body_error(f"feature {name!r} holds {value} in row {row + bad[0] + 1}")
        reading.add_coded("train", x, codes)
        row += batch.num_rows


def _labels(column: "pa.Array[Any]", label: str, row: int, reading: Reading) -> Labels:
    """A batch's label codes, encoded from its distinct labels; an error names an empty one."""
    if column.null_count:
        raise body_error(f"label column {label!r} is empty in row {row + _first_null(column) + 1}")
    encoded = column if isinstance(column, pa.DictionaryArray) else column.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    if "" in distinct:
        empty = int(np.argmax(indices == distinct.index("")))
        raise body_error(f"label column {label!r} is empty in row {row + empty + 1}")
    return reading.labels.encode_distinct(distinct, indices)


def _first_null(column: "pa.Array[Any]") -> int:
    return int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
