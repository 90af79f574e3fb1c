"""Any damage to a valid file ends in an IngestError (or a read), never another exception."""

import io
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.ingest import Format, IngestError, IngestLimits, read_dataset
from tests.models.ingest.files import image_bytes, write_npz, write_zip

RNG = np.random.default_rng(4)


def valid_files(folder: Path) -> dict[Format, bytes]:
    x, y = RNG.normal(size=(60, 3)), np.arange(60) % 3
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "label": [f"c{v}" for v in y]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=16)
    images = {
        f"{c}/{i}.png": image_bytes(RNG.integers(0, 256, (6, 5))) for i, c in enumerate("abab")
    }
    rows = [f"{r[0]},{r[1]},c{v}\n" for r, v in zip(x, y, strict=True)]
    return {
        "npz": write_npz(folder / "d.npz", x=x, y=y).read_bytes(),
        "csv": ("a,b,label\n" + "".join(rows)).encode(),
        "parquet": buffer.getvalue(),
        "image_zip": write_zip(folder / "d.zip", images).read_bytes(),
    }  # fmt: skip


with tempfile.TemporaryDirectory() as folder:
    FILES = valid_files(Path(folder))


@pytest.mark.parametrize("fmt", list(FILES))
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_file_is_read_or_refused(tmp_path: Path, fmt: Format, data: st.DataObject) -> None:
    original = FILES[fmt]
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(damaged)))
    path = tmp_path / f"damaged.{fmt}"
    path.write_bytes(bytes(damaged[:cut]))
    try:
        read_dataset(path, fmt, limits=IngestLimits())
    except IngestError as error:
        assert error.loc in (("body",), ("query", "label")) and error.message
