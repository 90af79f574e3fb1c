"""Peak memory of one read, measured in a process of its own.

    python -m tests.models.ingest.peak_memory FILE FORMAT inspect|read

prints JSON: examples, seconds, rss_growth (the kernel's high-water mark, reset just before
the read: getrusage's peak would carry the parent's RSS over the exec) and allocated_peak
(tracemalloc's peak, i.e. Python and numpy, plus pyarrow's memory pool). A first read of a
tiny file loads what pyarrow imports lazily (pandas, where installed) before measuring.
Linux only (/proc).
"""

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow

from models.ingest import IngestLimits, inspect_dataset, read_dataset
from tests.conftest import ROOT


def status(field: str) -> int:
    """A byte count from /proc/self/status (VmRSS, VmHWM)."""
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field))


def measure(path: Path, fmt: Any, mode: str) -> dict[str, float]:
    """Read `path` once and report its peaks (run it in a fresh process)."""
    read = inspect_dataset if mode == "inspect" else read_dataset
    tiny = path.with_name("tiny.csv")
    tiny.write_text("a,label\n1,x\n2,y\n")
    read(tiny, "csv", limits=IngestLimits())
    Path("/proc/self/clear_refs").write_text("5")
    rss = status("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    summary = read(path, fmt, limits=IngestLimits())
    seconds = time.perf_counter() - start
    python_peak = tracemalloc.get_traced_memory()[1]
    return {
        "examples": summary.n_examples,
        "seconds": seconds,
        "rss_growth": status("VmHWM") - rss,
        "allocated_peak": python_peak + pyarrow.default_memory_pool().max_memory(),
    }


def measured(path: Path, fmt: str, mode: str) -> dict[str, float]:
    """`measure` in a fresh Python process."""
    run = subprocess.run(
        [sys.executable, "-m", "tests.models.ingest.peak_memory", str(path), fmt, mode],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(run.stdout)
    return figures


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))
