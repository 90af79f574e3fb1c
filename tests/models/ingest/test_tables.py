"""CSV and Parquet uploads: round trips, and each way a table can be broken."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.ingest import IngestLimits, inspect_dataset, read_dataset
from tests.models.ingest.files import refused, write_npz


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def write_parquet(path: Path, columns: dict[str, object], row_group_size: int = 7) -> Path:
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_csv_with_string_labels_round_trips(tmp_path: Path) -> None:
    text = "f1,species,f2\n1.5,cat,2\n-3,dog,4e2\n5,bird,6\n7,cat,0.25\n"
    data = read_dataset(write_csv(tmp_path / "d.csv", text), "csv", label="species",
                        limits=IngestLimits())  # fmt: skip
    assert data.class_names == ["bird", "cat", "dog"]
    assert data.y.tolist() == [1, 2, 0, 1]
    assert data.class_counts == [1, 2, 1]
    np.testing.assert_array_equal(data.x, [[1.5, 2], [-3, 400], [5, 6], [7, 0.25]])
    assert data.x.dtype == np.float32 and data.input_shape == (2,)
    assert data.x_test is None and data.test_class_counts is None


def test_csv_integer_labels_keep_their_values_in_order(tmp_path: Path) -> None:
    text = "a,label\n" + "".join(f"{i},{c}\n" for i, c in enumerate([10, 2, 2, 0]))
    data = read_dataset(write_csv(tmp_path / "d.csv", text), "csv", limits=IngestLimits())
    assert data.class_names == ["0", "2", "10"]
    assert data.y.tolist() == [2, 1, 1, 0]


def test_parquet_round_trips_across_row_groups(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=50), rng.integers(0, 9, size=50)
    species = pa.array(["b", "a"] * 25).dictionary_encode()  # what pandas' categoricals write
    path = write_parquet(tmp_path / "d.parquet", {"f1": f1, "f2": f2, "label": species})
    data = read_dataset(path, "parquet", limits=IngestLimits())
    np.testing.assert_array_equal(data.x, np.stack([f1, f2], axis=1).astype(np.float32))
    assert data.class_names == ["a", "b"] and data.y.tolist() == [1, 0] * 25
    ints = write_parquet(tmp_path / "i.parquet", {"f": f1, "label": np.arange(50) % 3})
    assert read_dataset(ints, "parquet", limits=IngestLimits()).class_counts == [17, 17, 16]


def test_inspect_holds_no_arrays_and_agrees_with_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,2,x\n3,4,y\n5,6,y\n")
    summary = inspect_dataset(path, "csv", limits=IngestLimits())
    data = read_dataset(path, "csv", limits=IngestLimits())
    assert not hasattr(summary, "x")
    assert summary.shape == data.shape
    assert (summary.class_names, summary.class_counts) == (["x", "y"], [1, 2])


def test_missing_label_column_names_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,c\n1,2,3\n")
    error = refused(path, "csv")
    assert error.loc == ("query", "label")
    assert error.message == "column 'label' not found; columns are a, b, c"
    parquet = write_parquet(tmp_path / "d.parquet", {"a": [1.0], "b": [2.0]})
    error = refused(parquet, "parquet", label="target")
    assert (error.loc, error.message) == (
        ("query", "label"),
        "column 'target' not found; columns are a, b",
    )


CSV_BROKEN = [
    ("a,b,label\n1,2,x\n3,nan,y\n", "feature 'b' holds nan in row 2"),
    ("a,b,label\n1,2,x\n3,-inf,y\n", "feature 'b' holds -inf in row 2"),
    ("a,b,label\n1,2,x\n1e39,2,y\n", "feature 'a' holds 1e+39 in row 2"),
    ("a,b,label\n1,,x\n3,4,y\n", "feature 'b' is empty in row 1"),
    ("a,b,label\n1,2,x\n3,abc,y\n", "feature 'b' holds 'abc', which is not a number"),
    ("a,b,label\n1,2,x\n3,4,\n", "label column 'label' is empty in row 2"),
    ("a,b,label\n1,2,x\n3,4,x\n", "only one class ('x')"),
    ("a,b,label\n", "no examples"),
    ("a,a,label\n1,2,x\n", "column 'a' appears twice in the header"),
    ("label\nx\ny\n", "no feature columns"),
    ("a,b,label\n1,2,x\n3,4,y\n5,", "not a readable CSV file with a header row: CSV parse error"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "words"), CSV_BROKEN)
def test_broken_csv_is_refused(tmp_path: Path, text: str, words: str) -> None:
    error = refused(write_csv(tmp_path / "bad.csv", text), "csv")
    assert error.loc == ("body",)
    assert words in error.message


def test_nan_in_a_later_row_group_names_its_row(tmp_path: Path) -> None:
    f = np.arange(40, dtype=np.float64)
    f[16] = np.nan
    path = write_parquet(tmp_path / "d.parquet", {"f3": f, "label": np.arange(40) % 2})
    assert refused(path, "parquet").message == "feature 'f3' holds nan in row 17"
    gaps = pa.array([1.0] * 20 + [None] * 20)
    path = write_parquet(tmp_path / "g.parquet", {"f": gaps, "label": np.arange(40) % 2})
    assert refused(path, "parquet").message == "feature 'f' is empty in row 21"


def test_parquet_column_types_are_checked_from_the_schema(tmp_path: Path) -> None:
    text = write_parquet(tmp_path / "t.parquet", {"f": ["1", "2"], "label": [0, 1]})
    assert refused(text, "parquet").message == (
        "feature 'f' has type string; features must be numbers"
    )
    floats = write_parquet(tmp_path / "f.parquet", {"f": [1, 2], "label": [0.0, 1.0]})
    assert refused(floats, "parquet").message == (
        "label column 'label' has type double; labels are integers or strings"
    )


def test_parquet_row_count_is_bounded_from_the_footer(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "d.parquet", {"f": np.ones(100), "label": np.arange(100) % 2})
    error = refused(path, "parquet", IngestLimits(max_examples=99))
    assert error.message == "rows: 100 exceeds the bound of 99 (REGLAB_INGEST_MAX_EXAMPLES)"


def test_truncated_and_foreign_files_are_refused(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "d.parquet", {"f": np.ones(100), "label": np.arange(100) % 2})
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(path.read_bytes()[:-100])
    assert refused(cut, "parquet").message.startswith("not a readable Parquet file, or a truncated")
    csv = write_csv(tmp_path / "d.csv", "a,label\n1,x\n2,y\n")
    assert refused(csv, "parquet").message.startswith("not a readable Parquet file")
    npz = write_npz(tmp_path / "d.npz", x=np.ones((2, 2)), y=np.arange(2))
    assert refused(npz, "csv").message.startswith("not a readable CSV file")
