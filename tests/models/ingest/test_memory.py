"""Memory while a large CSV is checked: one batch at a time, not the file."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from tests.models.ingest.peak_memory import measured

MB = 1e6


def write_large_csv(path: Path, rows: int, features: int) -> Path:
    rng = np.random.default_rng(3)
    columns = {f"f{i}": rng.normal(size=rows).round(6) for i in range(features)}
    columns["label"] = np.array(["cat", "dog", "bird"])[rng.integers(0, 3, rows)]
    pa_csv.write_csv(pa.table(columns), path)
    return path


def test_a_100_mb_csv_is_checked_in_bounded_memory(tmp_path: Path) -> None:
    path = write_large_csv(tmp_path / "large.csv", rows=520_000, features=20)
    size = path.stat().st_size
    assert size > 95 * MB
    figures = measured(path, "csv", "inspect")
    print(f"CSV {size / MB:.0f} MB: RSS +{figures['rss_growth'] / MB:.0f} MB, "
          f"allocated peak {figures['allocated_peak'] / MB:.0f} MB")  # fmt: skip
    assert figures["examples"] == 520_000
    # pyarrow reads ~32 blocks of 512 KiB ahead; the rest is one batch and the label codes.
    assert figures["allocated_peak"] < 60 * MB
    assert figures["rss_growth"] < 100 * MB  # the bound, for a file of twice this size
