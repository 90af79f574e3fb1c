"""Uploading a dataset through HTTP: MB/s, the API's memory, and loading the stored dataset.

Starts the real API (uvicorn, SQLite in a temporary REGLAB_HOME), writes a ~200 MB CSV
(numeric features, a string label) and the same data as an NPZ, and POSTs each to /datasets
streamed from the file (httpx, the file object as the body). Prints MB/s of each upload and
the server's RSS before, at its peak (the kernel's high-water mark, reset just before the
request: Linux only) and the growth. Then the same for each malicious or broken file (all
refused), and a stored dataset's load time in a worker (`load_uploaded` on a warm blob
cache: read, split, standardize; and `read_dataset` alone) beside `pandas.read_csv` and
`np.load` of the same file.

    python bench/upload.py [--mb 200] [--features 20]
"""

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402

from models.blobs import BlobCache, BlobStore  # noqa: E402
from models.ingest import IngestLimits, read_dataset  # noqa: E402
from models.spec import DatasetSpec  # noqa: E402
from models.store.datasets import DatasetRef  # noqa: E402
from tests.conftest import migrate  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    api_client,
    bootstrap_key,
    free_port,
    process_env,
    wait_healthy,
)
from tests.models.ingest.files import image_bytes, npy_bytes, npy_header, write_zip  # noqa: E402
from workers.datasets.uploaded import load_uploaded  # noqa: E402

MB = 1e6
OCTET = {"Content-Type": "application/octet-stream"}
LABELS = np.array(["setosa", "versicolor", "virginica"])
MAX_VALUES = IngestLimits().max_values


def write_csv(path: Path, target_mb: float, features: int) -> tuple[Any, Any]:
    """A CSV of about `target_mb` MB: rows of float features and a string label; both."""
    rng = np.random.default_rng(0)
    sample = pd.DataFrame(rng.normal(size=(1000, features)).round(6)).to_csv(index=False)
    rows = min(int(target_mb * MB / (len(sample) / 1000)), MAX_VALUES // features)
    names = [f"f{i}" for i in range(features)]
    x = rng.normal(size=(rows, features)).round(6)
    labels = LABELS[rng.integers(0, 3, rows)]
    with pa_csv.CSVWriter(
        path,
        pa.schema([*(pa.field(n, pa.float64()) for n in names), pa.field("label", pa.string())]),
    ) as out:
        for start in range(0, rows, 100_000):
            part = slice(start, start + 100_000)
            columns = {n: x[part, i] for i, n in enumerate(names)}
            out.write_table(pa.table({**columns, "label": labels[part]}))
    return x, labels


def zip_bomb(path: Path, png: bytes) -> None:
    """An image_zip whose second member inflates to 1,000 MiB of zeros (about 1 MB stored)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/1.png", png)
        with archive.open("b/bomb.png", "w", force_zip64=True) as member:
            for _ in range(1000):
                member.write(bytes(2**20))


def malicious_files(folder: Path) -> dict[str, tuple[str, Path]]:
    """Each kind of file an upload must refuse: its format and where it was written."""
    png = image_bytes(np.zeros((6, 5)))
    objects = np.empty(4, dtype=object)
    objects[:] = [{"payload": i} for i in range(4)]
    truncated = folder / "truncated.npz"
    np.savez(truncated, x=np.ones((200_000, 20)), y=np.arange(200_000) % 3)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    nan = folder / "nan.csv"
    rows = "".join(f"{i},{i % 7},c{i % 3}\n" for i in range(2_500_000))
    nan.write_text(f"a,b,label\n{rows}1,nan,c0\n")
    (folder / "no-label.csv").write_text("a,b,c\n1,2,3\n")
    (folder / "empty.csv").write_bytes(b"")
    zip_bomb(folder / "bomb.zip", png)
    np.savez(folder / "pickle.npz", x=objects, y=np.arange(4))
    huge = {
        "x.npy": npy_header((10**6, 10**6), "<f4", b"\0" * 64),
        "y.npy": npy_bytes(np.arange(2)),
    }
    escape = {"a/1.png": png, "b/1.png": png, "../b/2.png": png}
    return {
        "pickled object array": ("npz", folder / "pickle.npz"),
        "NPZ declaring 10^12 values": ("npz", write_zip(folder / "huge.npz", huge)),
        "zip bomb (1,000 MiB of zeros)": ("image_zip", folder / "bomb.zip"),
        "zip with ../ paths": ("image_zip", write_zip(folder / "escape.zip", escape)),
        "NaN in the last row": ("csv", nan),
        "missing label column": ("csv", folder / "no-label.csv"),
        "empty file": ("csv", folder / "empty.csv"),
        "truncated NPZ": ("npz", truncated),
    }


def status(pid: int, field: str) -> int:
    """A byte count of the process's /proc status (VmRSS, VmHWM)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field))


def measured(pid: int, action: Callable[[], Any]) -> tuple[Any, float, int, int]:
    """`action()`'s result and seconds, the server's RSS before it and its peak during it."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the high-water mark restarts from now
    before = status(pid, "VmRSS")
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start, before, status(pid, "VmHWM")


def post_file(api: httpx.Client, name: str, fmt: str, path: Path, **params: str) -> httpx.Response:
    """POST the file streamed from disk (httpx reads the file object a chunk at a time)."""
    with path.open("rb") as body:
        return api.post(
            "/datasets",
            params={"name": name, "format": fmt, **params},
            content=body,
            headers=OCTET,
            timeout=600,
        )


def declared_too_large(port: int, authorization: str) -> str:
    """The status line answering a POST that declares 600 MB (none of it sent)."""
    head = (
        f"POST /datasets?name=big&format=csv HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {authorization}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {600 * 10**6}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536).partition(b"\r\n")[0].decode()


@contextmanager
def api_server(home: Path) -> Iterator[tuple[httpx.Client, int, int]]:
    """The API on a free port: a client sending its admin key, its port and pid (uvicorn
    serves in that process)."""
    url = f"sqlite:///{home}/reglab.sqlite"
    migrate(url)
    port = free_port()
    env = {
        "REGLAB_HOME": str(home),
        "REGLAB_DATABASE_URL": url,
        "REGLAB_PORT": str(port),
        "REGLAB_RECONCILE_SECONDS": "0",
    }
    key = bootstrap_key(process_env(env))
    with (home / "api.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=ROOT,
            env=process_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base)
            with api_client(base, key) as api:
                yield api, port, server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def report(label: str, size: int, seconds: float, before: int, peak: int, outcome: str) -> None:
    """One line: size, time (and MB/s above 1 MB), the server's RSS before, peak and growth."""
    speed = f"{size / MB / seconds:6.1f} MB/s" if size > MB else f"{seconds * 1000:6.0f} ms  "
    print(
        f"{label:30} {size / MB:8.3f} MB {speed}   RSS before {before / MB:4.0f} MB, peak "
        f"{peak / MB:4.0f} MB, growth {(peak - before) / MB:4.0f} MB   {outcome}"
    )


def upload_figures(
    api: httpx.Client, port: int, pid: int, files: dict[str, Path]
) -> dict[str, Any]:
    """Upload the CSV and the NPZ, then every malicious file; the stored versions by format."""
    warm = files["csv"].with_name("warm.csv")
    warm.write_text("a,label\n1,x\n2,y\n")  # lazy imports (pyarrow's CSV reader) before measuring
    assert post_file(api, "warm", "csv", warm).status_code == 201
    stored = {}
    for fmt, path in files.items():
        response, seconds, before, peak = measured(
            pid, lambda p=path, f=fmt: post_file(api, f"bench-{f}", f, p)
        )
        assert response.status_code == 201, response.text
        stored[fmt] = response.json()
        report(
            f"upload {fmt}",
            path.stat().st_size,
            seconds,
            before,
            peak,
            f"{response.status_code}, {stored[fmt]['n_examples']:,} examples",
        )
    print()
    for name, (fmt, path) in malicious_files(files["csv"].parent).items():
        response, seconds, before, peak = measured(
            pid, lambda f=fmt, p=path: post_file(api, "bad", f, p)
        )
        message = response.json()["detail"][0]["msg"][:70]
        report(
            name, path.stat().st_size, seconds, before, peak, f"{response.status_code} {message}"
        )
    line, seconds, before, peak = measured(
        pid, lambda: declared_too_large(port, api.headers["Authorization"])
    )
    report("declares 600 MB (413 unread)", 0, seconds, before, peak, line)
    listed = api.get("/datasets").json()["total"]
    print(f"stored versions after the refusals: {listed} (warm-up + {len(files)} uploads)")
    return stored


def load_figures(home: Path, files: dict[str, Path], stored: dict[str, Any]) -> None:
    """A stored dataset's load time in a worker beside the plain readers of the same file."""
    cache = BlobCache(BlobStore(str(home / "blobs")), home / "blob-cache", 10 * 2**30)
    baselines: dict[str, tuple[str, Callable[[Path], Any]]] = {
        "csv": ("pandas.read_csv", pd.read_csv),
        "npz": ("np.load", lambda p: dict(np.load(p, allow_pickle=False))),
    }
    print()
    for fmt, body in stored.items():
        ref = DatasetRef(body["name"], body["version"], body["sha256"], fmt, body["label"] or "")
        cache.path(ref.sha256)  # warm: the copy is local, as on a worker's second run
        timings = {}
        start = time.perf_counter()
        read_dataset(cache.path(ref.sha256), fmt, label=body["label"], limits=IngestLimits())
        timings["read_dataset"] = time.perf_counter() - start
        start = time.perf_counter()
        load_uploaded(DatasetSpec(name=ref.name, version=ref.version), ref, cache)
        timings["load_uploaded (read, split, standardize)"] = time.perf_counter() - start
        name, baseline = baselines[fmt]
        start = time.perf_counter()
        baseline(files[fmt])
        timings[name] = time.perf_counter() - start
        print(
            f"load {fmt} ({files[fmt].stat().st_size / MB:.0f} MB): "
            + ", ".join(f"{what} {seconds:.2f} s" for what, seconds in timings.items())
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the CSV")
    parser.add_argument("--features", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        files = {"csv": home / "data.csv", "npz": home / "data.npz"}
        x, labels = write_csv(files["csv"], args.mb, args.features)
        np.savez(files["npz"], x=x.astype(np.float32), y=labels)  # the same data
        print(f"{len(x):,} rows x {args.features} features + a string label\n")
        del x, labels
        with api_server(home) as (api, port, pid):
            stored = upload_figures(api, port, pid, files)
        load_figures(home, files, stored)


if __name__ == "__main__":
    main()
