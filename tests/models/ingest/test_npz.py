"""NPZ uploads: round trips, and every array that must be refused before it is loaded."""

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from models.ingest import IngestLimits, read_dataset
from models.spec.catalog import BUILTIN_DATASETS, DatasetShape
from tests.models.ingest.files import npy_bytes, npy_header, refused, write_npz, write_zip

UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    UNPICKLED.append("unpickled")
    return "payload"


class Payload:
    """An object whose unpickling would leave a trace: the proof nothing was unpickled."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return _record_unpickling, ()


def test_arrays_and_explicit_test_split_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(30, 8, 8)), rng.normal(size=(9, 8, 8))
    y, y_test = np.arange(30) % 3, np.arange(9) % 3
    data = read_dataset(write_npz(tmp_path / "d.npz", x=x, y=y, x_test=x_test, y_test=y_test),
                        "npz", limits=IngestLimits())  # fmt: skip
    assert data.x.dtype == np.float32 and data.y.dtype == np.int64
    np.testing.assert_array_equal(data.x, x.astype(np.float32))
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.x_test, x_test.astype(np.float32))
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.class_names == ["0", "1", "2"]
    assert data.class_counts == [10, 10, 10] and data.test_class_counts == [3, 3, 3]
    assert data.shape == DatasetShape(input_shape=(8, 8), n_classes=3, n_samples=39)


def test_integer_labels_sort_by_value_and_strings_as_text(tmp_path: Path) -> None:
    x = np.ones((4, 2))
    ints = read_dataset(write_npz(tmp_path / "i.npz", x=x, y=np.array([10, 2, 7, 2])), "npz",
                        limits=IngestLimits())  # fmt: skip
    assert ints.class_names == ["2", "7", "10"]
    assert ints.y.tolist() == [2, 0, 1, 0]
    words = read_dataset(write_npz(tmp_path / "s.npz", x=x, y=np.array(["b", "a", "c", "a"])),
                         "npz", limits=IngestLimits())  # fmt: skip
    assert words.class_names == ["a", "b", "c"]
    assert words.y.tolist() == [1, 0, 2, 0]
    assert words.class_counts == [2, 1, 1] and words.test_class_counts is None


def test_pickled_object_array_is_refused_unread(tmp_path: Path) -> None:
    x = np.empty(4, dtype=object)
    x[:] = [Payload()] * 4
    path = write_npz(tmp_path / "p.npz", x=x, y=np.arange(4))
    error = refused(path, "npz")
    assert error.loc == ("body",)
    assert "x has dtype object" in error.message and "never loaded" in error.message
    assert UNPICKLED == []
    with np.load(path, allow_pickle=True) as arrays:  # the control: the file is a real pickle
        arrays["x"]
    assert UNPICKLED == ["unpickled"]


def test_array_declaring_a_trillion_values_is_refused_from_its_header(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "huge.npz",
        {"x.npy": npy_header((10**6, 10**6), "<f4", b"\0" * 64), "y.npy": npy_bytes(np.arange(2))},
    )
    tracemalloc.start()
    error = refused(path, "npz")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert error.loc == ("body",)
    assert error.message == (
        "input values declared: 1,000,000,000,000 exceeds the bound of 20,000,000 "
        "(REGLAB_INGEST_MAX_VALUES)"
    )
    assert peak < 1_000_000  # nothing of the declared 4 TB was allocated


def test_header_promising_more_than_the_member_holds_is_refused(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "lie.npz",
        {"x.npy": npy_header((100, 10), "<f8", b"\0" * 40), "y.npy": npy_bytes(np.arange(100))},
    )
    error = refused(path, "npz")
    assert "x declares shape (100, 10) of float64 (8,000 bytes) but holds 40 bytes" in error.message


X, Y = np.ones((4, 2)), np.arange(4) % 2
XY = {"x": X, "y": Y}
TEST = {"x_test": np.ones((2, 2)), "y_test": np.arange(2)}
BROKEN = [
    ({"x": X, "y": Y, "notes": np.ones(1)}, "unknown member 'notes.npy'"),
    ({"x": X}, "array 'x' without 'y'"),
    ({"x": X, "y": Y, "x_test": TEST["x_test"]}, "array 'x_test' without 'y_test'"),
    ({"x": X, "y": Y.reshape(4, 1)}, "y has shape (4, 1); it must be (4,)"),
    ({"x": X, "y": Y[:3]}, "y has shape (3,); it must be (4,)"),
    ({"x": np.ones(4), "y": Y}, "x has shape (4,); it must be (examples, *input_shape)"),
    ({"x": np.ones((4, 0)), "y": Y}, "x has shape (4, 0); it must be"),
    ({"x": X, "y": np.ones(4)}, "y has dtype float64; it must hold integers or strings"),
    ({"x": np.array([["a"]] * 4), "y": Y}, "x has dtype <U1; it must hold numbers"),
    ({"x": X, "y": np.zeros(4, dtype=int)}, "only one class ('0')"),
    ({**XY, **TEST, "x_test": np.ones((2, 2, 2))}, "2 dimensions per example in x_test but 1 in x"),
    ({**XY, **TEST, "x_test": np.ones((2, 3))}, "examples are (3,) in x_test but (2,) in x"),
    ({**XY, **TEST, "y_test": np.array([0, 5])}, "y_test holds class '5', which y does not"),
]  # fmt: skip


@pytest.mark.parametrize(("arrays", "words"), BROKEN)
def test_broken_arrays_are_refused(
    tmp_path: Path, arrays: dict[str, np.ndarray[object, np.dtype[object]]], words: str
) -> None:
    error = refused(write_npz(tmp_path / "bad.npz", **arrays), "npz")
    assert error.loc == ("body",)
    assert words in error.message


def test_nan_feature_is_refused_with_its_index(tmp_path: Path) -> None:
    x = np.zeros((5, 3))
    x[3, 1] = np.nan
    error = refused(write_npz(tmp_path / "nan.npz", x=x, y=np.arange(5) % 2), "npz")
    assert error.message.startswith("x holds nan at index (3, 1) (example 3)")


def test_value_past_float32_range_is_refused(tmp_path: Path) -> None:
    x = np.zeros((4, 2))
    x[2, 0] = 1e300
    error = refused(write_npz(tmp_path / "big.npz", x=x, y=np.arange(4) % 2), "npz")
    assert error.message.startswith("x holds 1e+300 at index (2, 0)")


def test_zip_bomb_member_is_refused_by_its_ratio(tmp_path: Path) -> None:
    x = np.zeros((2_000, 1_000), dtype=np.float32)  # 8 MB of zeros deflate to a few KB
    error = refused(write_npz(tmp_path / "bomb.npz", x=x, y=np.arange(2_000) % 2), "npz")
    assert error.loc == ("body",)
    assert "compression ratio of 'x.npy'" in error.message
    assert "REGLAB_INGEST_MAX_COMPRESSION_RATIO" in error.message


def test_truncated_and_foreign_files_are_refused(tmp_path: Path) -> None:
    whole = write_npz(tmp_path / "d.npz", x=np.ones((40, 3)), y=np.arange(40) % 2).read_bytes()
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert "not a zip archive (npz), or a truncated one" in refused(truncated, "npz").message
    csv = tmp_path / "d.csv"
    csv.write_text("a,label\n1,x\n2,y\n")
    assert "not a zip archive (npz)" in refused(csv, "npz").message


def test_digits_read_back_exactly_as_the_built_in_dataset_holds_them(tmp_path: Path) -> None:
    digits = load_digits()  # ships inside scikit-learn
    path = write_npz(tmp_path / "digits.npz", x=digits.images, y=digits.target)
    data = read_dataset(path, "npz", limits=IngestLimits())
    np.testing.assert_array_equal(data.x, digits.images.astype(np.float32))
    np.testing.assert_array_equal(data.y, digits.target)
    assert data.shape == BUILTIN_DATASETS["digits"].fixed_shape
    assert data.class_names == [str(k) for k in range(10)]


@pytest.mark.parametrize("header", [b"{'descr': '<f8', 'shape': (4, 2", b"{'descr': '<f8'; 1}"])
def test_a_mangled_array_header_is_refused(tmp_path: Path, header: bytes) -> None:
    # numpy reads the header as a Python literal: unbalanced or bad syntax raised past us (a 500).
    magic = b"\x93NUMPY\x01\x00"
    padded = header + b" " * (118 - len(header)) + b"\n"
    member = magic + len(padded).to_bytes(2, "little") + padded + bytes(64)
    members = {"x.npy": member, "y.npy": npy_bytes(Y)}
    error = refused(write_zip(tmp_path / "mangled.npz", members), "npz")
    assert error.loc == ("body",) and "x" in error.message
