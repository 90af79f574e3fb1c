"""NPZ uploads: arrays x, y and optionally x_test, y_test, their headers checked before loading."""

import zipfile
from math import prod
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.ingest.archive import ZIP_ERRORS, open_zip
from models.ingest.base import IngestError, body_error
from models.ingest.dataset import SPLITS, Features, Reading, as_features, first_nonfinite
from models.ingest.limits import IngestLimits

ARRAYS = ("x", "y", "x_test", "y_test")
LAYOUT = "an NPZ holds arrays x and y, and optionally x_test and y_test (np.savez(f, x=x, y=y))"
SLAB_VALUES = 1 << 20  # values converted to float32 at a time (4 MB)
Header = tuple[tuple[int, ...], np.dtype[Any], int]  # declared shape and dtype, bytes held


def read_npz(path: Path, reading: Reading, limits: IngestLimits) -> None:
    """Check every array's header, then load the arrays into `reading`."""
    with open_zip(path, limits, "npz") as archive:
        headers = {
            info.filename.removesuffix(".npy"): _header(archive, info) for info in _members(archive)
        }
    _check_headers(headers, reading, limits)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            for split, (x_name, y_name) in SPLITS.items():
                if x_name in headers:
                    _add_split(reading, split, arrays[x_name], arrays[y_name])
    except IngestError:
        raise
    except ZIP_ERRORS as exc:
        raise body_error(f"the NPZ file could not be read: {exc}") from None


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's arrays; an error for any other member or a missing array."""
    members = archive.infolist()
    names = [info.filename.removesuffix(".npy") for info in members]
    for info, name in zip(members, names, strict=True):
        if name not in ARRAYS or not info.filename.endswith(".npy"):
            raise body_error(f"unknown member {info.filename!r}; {LAYOUT}")
    for x_name, y_name in (("x", "y"), ("y", "x"), ("x_test", "y_test"), ("y_test", "x_test")):
        if x_name in names and y_name not in names:
            raise body_error(f"array {x_name!r} without {y_name!r}; {LAYOUT}")
    if "x" not in names:
        raise body_error(f"no array 'x'; {LAYOUT}")
    return members


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Header:
    """An array's declared shape and dtype, read from its .npy header alone, and its data size."""
    name = info.filename.removesuffix(".npy")
    fmt = np.lib.format
    try:
        with archive.open(info) as stream:
            version = fmt.read_magic(stream)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f".npy format version {version} (1.0 and 2.0 are read)")
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(stream)
            data_bytes = info.file_size - stream.tell()
    except ZIP_ERRORS as exc:
        raise body_error(f"{name}: not a readable .npy array ({exc})") from None
    _check_dtype(name, dtype)
    return shape, dtype, data_bytes


def _check_dtype(name: str, dtype: np.dtype[Any]) -> None:
    """Numbers for x, integers or strings for y; never Python objects."""
    if dtype.hasobject:
        raise body_error(
            f"{name} has dtype object (pickled Python objects), which is never loaded; "
            "save numbers, or strings for labels"
        )
    if dtype.names is not None:
        raise body_error(f"{name} has a structured dtype {dtype}; save a plain array")
    kinds = "biuf" if name.startswith("x") else "iuU"
    if dtype.kind not in kinds:
        wanted = "numbers" if name.startswith("x") else "integers or strings"
        raise body_error(f"{name} has dtype {dtype}; it must hold {wanted}")


def _check_headers(headers: dict[str, Header], reading: Reading, limits: IngestLimits) -> None:
    """Bounds, ranks and lengths of the declared arrays, before any is loaded."""
    x_shapes = [headers[x][0] for x, _ in SPLITS.values() if x in headers]
    limits.check("max_values", sum(prod(s) for s in x_shapes), "input values declared")
    limits.check("max_examples", sum(s[0] for s in x_shapes if s), "examples declared")
    for split, (x_name, y_name) in SPLITS.items():
        if x_name not in headers:
            continue
        x_shape, y_shape = headers[x_name][0], headers[y_name][0]
        if not 2 <= len(x_shape) <= 4 or 0 in x_shape[1:]:
            raise body_error(
                f"{x_name} has shape {x_shape}; it must be (examples, *input_shape) with 1 to 3 "
                "non-empty dimensions per example"
            )
        limits.check("max_features", prod(x_shape[1:]), f"values per example in {x_name}")
        if len(y_shape) != 1 or y_shape[0] != x_shape[0]:
            raise body_error(
                f"{y_name} has shape {y_shape}; it must be ({x_shape[0]},): one label per "
                f"example of {x_name}"
            )
        reading.expect_shape(split, x_shape[1:])
    for name, (shape, dtype, held) in headers.items():
        declared = prod(shape) * dtype.itemsize
        if declared != held:
            raise body_error(
                f"{name} declares shape {shape} of {dtype} ({declared:,} bytes) but holds "
                f"{held:,} bytes"
            )


def _add_split(reading: Reading, split: str, x: NDArray[Any], y: NDArray[Any]) -> None:
    """Hand a split over a slab of rows at a time, so one float32 copy is made at most."""
    rows = max(1, SLAB_VALUES // prod(x.shape[1:]))
    for start in range(0, len(x), rows):
        features = _features(SPLITS[split][0], x[start : start + rows], start)
        reading.add(split, features, y[start : start + rows])


def _features(name: str, x: NDArray[Any], offset: int) -> Features:
    """Rows of `x` (the first being example `offset`) as float32, refused if not all finite."""
    features = as_features(x)
    bad = first_nonfinite(features)
    if bad is not None:
        index = (offset + bad[0], *bad[1:])
        raise body_error(
            f"{name} holds {float(x[bad])} at index {index} (example {index[0]}); features must "
            "be finite float32 numbers"
        )
    return features
