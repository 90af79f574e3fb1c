"""The entry points: the request's format and label, the file's size, the settings' bounds."""

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from models.ingest import FORMATS, IngestLimits, inspect_dataset
from models.spec.resolve import MAX_DATASET_VALUES
from tests.models.ingest.files import refused, write_npz


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_is_refused_in_every_format(tmp_path: Path, fmt: str) -> None:
    empty = tmp_path / "empty"
    empty.touch()
    error = refused(empty, fmt)  # type: ignore[arg-type]
    assert (error.loc, error.message, error.kind) == (("body",), "the file is empty", "value_error")


def test_unknown_format_and_misplaced_label_point_at_the_query(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "d.npz", x=np.ones((2, 2)), y=np.arange(2))
    error = refused(path, "xlsx")  # type: ignore[arg-type]
    assert error.loc == ("query", "format")
    assert error.message == "unknown format 'xlsx'; formats are npz, csv, parquet, image_zip"
    error = refused(path, "npz", label="y")
    assert error.loc == ("query", "label")
    assert error.message == "label names a CSV or Parquet column; format npz has none"


def test_file_past_the_byte_bound_is_too_large(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "d.npz", x=np.ones((2, 2)), y=np.arange(2))
    size = path.stat().st_size
    error = refused(path, "npz", IngestLimits(max_bytes=size - 1))
    assert error.kind == "too_large"
    assert error.message == (
        f"file bytes: {size:,} exceeds the bound of {size - 1:,} (REGLAB_INGEST_MAX_BYTES)"
    )


def test_class_and_example_bounds_name_their_variables(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "d.npz", x=np.ones((6, 2)), y=np.arange(6) % 3)
    error = refused(path, "npz", IngestLimits(max_classes=2))
    assert error.message == "distinct labels: 3 exceeds the bound of 2 (REGLAB_INGEST_MAX_CLASSES)"
    error = refused(path, "npz", IngestLimits(max_examples=5))
    assert error.message == (
        "examples declared: 6 exceeds the bound of 5 (REGLAB_INGEST_MAX_EXAMPLES)"
    )
    assert inspect_dataset(path, "npz", limits=IngestLimits()).class_counts == [2, 2, 2]


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGLAB_INGEST_MAX_CLASSES", "7")
    assert IngestLimits().max_classes == 7
    assert IngestLimits().max_values == MAX_DATASET_VALUES  # no more than a spec may train on
    monkeypatch.setenv("REGLAB_INGEST_MAX_VALUES", str(MAX_DATASET_VALUES + 1))
    with pytest.raises(ValidationError, match="max_values"):
        IngestLimits()
