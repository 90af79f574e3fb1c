"""How fast, and in how much memory, does reglab read an upload, beside the plain readers?

Writes one dataset (rows x features of float64 with string labels) as CSV, Parquet and NPZ,
and an image_zip of 28x28 grayscale PNGs, in a temporary folder. For each file prints the
read rate in MB of file per second of `read_dataset` (arrays kept) and `inspect_dataset`
(checked, one batch at a time: what an upload calls) beside the same file read by
`np.load` / `pandas.read_csv` / `pyarrow.parquet.read_table` / a Pillow decode loop (best of
`--repeat`), then each one's peak memory in a fresh process (RSS growth and allocations).

    python bench/ingest.py [--rows 400000] [--features 20] [--images 5000] [--repeat 3]
"""

import argparse
import io
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402

from models.ingest import IngestLimits, inspect_dataset, read_dataset  # noqa: E402
from tests.models.ingest.peak_memory import measured  # noqa: E402

MB = 1e6


def write_files(folder: Path, rows: int, features: int, images: int) -> dict[str, Path]:
    """The same table as CSV, Parquet and NPZ, and a zip of class folders of PNGs."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features)).round(6)
    labels = np.array(["cat", "dog", "bird"])[rng.integers(0, 3, rows)]
    table = pa.table({**{f"f{i}": x[:, i] for i in range(features)}, "label": labels})
    pa_csv.write_csv(table, folder / "d.csv")
    pq.write_table(table, folder / "d.parquet")
    np.savez(folder / "d.npz", x=x, y=labels)
    with zipfile.ZipFile(folder / "d.zip", "w") as archive:
        for i in range(images):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(buffer, "PNG")
            archive.writestr(f"class{i % 10}/{i}.png", buffer.getvalue())
    return {"npz": folder / "d.npz", "csv": folder / "d.csv",
            "parquet": folder / "d.parquet", "image_zip": folder / "d.zip"}  # fmt: skip


def decode_pngs(path: Path) -> Any:
    """The image baseline: every member decoded by Pillow, no checks."""
    with zipfile.ZipFile(path) as archive:
        return [np.asarray(Image.open(archive.open(info))) for info in archive.infolist()]


BASELINES: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "npz": ("np.load", lambda p: dict(np.load(p, allow_pickle=False))),
    "csv": ("pandas.read_csv", pd.read_csv),
    "parquet": ("pyarrow.parquet.read_table", pq.read_table),
    "image_zip": ("Pillow decode loop", decode_pngs),
}


def rate(path: Path, read: Callable[[Path], Any], repeat: int) -> float:
    """MB of file read per second, best of `repeat`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        read(path)
        best = min(best, time.perf_counter() - start)
    return path.stat().st_size / MB / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--images", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    limits = IngestLimits()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), args.rows, args.features, args.images)
        print(f"{'format':10} {'MB':>6} {'read':>8} {'inspect':>8} {'baseline':>9}  (MB/s)")
        for fmt, path in files.items():
            name, baseline = BASELINES[fmt]
            rates = [
                rate(path, lambda p, f=fmt: read_dataset(p, f, limits=limits), args.repeat),
                rate(path, lambda p, f=fmt: inspect_dataset(p, f, limits=limits), args.repeat),
                rate(path, baseline, args.repeat),
            ]
            print(f"{fmt:10} {path.stat().st_size / MB:6.1f} "
                  + " ".join(f"{r:8.1f}" for r in rates) + f"   baseline: {name}")  # fmt: skip
        print("\npeak memory, fresh process (MB): RSS growth / allocated (Python + pyarrow pool)")
        for fmt, path in files.items():
            figures = {mode: measured(path, fmt, mode) for mode in ("read", "inspect")}
            print(f"{fmt:10} " + "  ".join(
                f"{mode} {f['rss_growth'] / MB:5.0f} / {f['allocated_peak'] / MB:5.0f}"
                for mode, f in figures.items()))  # fmt: skip


if __name__ == "__main__":
    main()
