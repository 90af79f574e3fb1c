"""Blob store throughput: put and get MB/s on a local folder and on S3 (moto), beside baselines.

In the same run, on the same file: the store's put (spool, sha256, publish) and get (read
back) against a plain file copy and read on the folder, and against boto3's own upload and
download on the S3 server (moto's standalone server, in memory, on this machine: its figures
measure the client path, not a network). Then the worker's cache: a first `path()` (download
and check) and a hit (the sha256 check alone).

    python bench/blob_store.py [--mb 128] [--repeats 3]
"""

import argparse
import hashlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from models.blobs import BlobCache, BlobStore  # noqa: E402
from tests.models.blobs.s3server import BUCKET, S3Server, moto_server  # noqa: E402

CHUNK = 2**20


def rate(size: int, repeats: int, action: Callable[[int], object]) -> float:
    """Median MB/s of `action(i)` over `repeats` runs."""
    seconds = []
    for i in range(repeats):
        os.sync()  # earlier writes' writeback is not charged to this one
        start = time.perf_counter()
        action(i)
        seconds.append(time.perf_counter() - start)
    return size / 1e6 / statistics.median(seconds)


def drain(file: io.BufferedIOBase | io.RawIOBase | object) -> None:
    """Read a file object to its end, a chunk at a time."""
    while file.read(CHUNK):  # type: ignore[attr-defined]
        pass


def unique(source: Path, work: Path, i: int) -> Path:
    """`source` with its first byte changed to `i`: new content, so no put is deduplicated."""
    copy = work / f"source-{i}"
    shutil.copyfile(source, copy)
    with copy.open("r+b") as file:
        file.write(bytes([i % 256]))
    return copy


def store_rates(store: BlobStore, source: Path, work: Path, repeats: int) -> dict[str, float]:
    """put (new content each time), put of content already stored, get, on `store`."""
    size = source.stat().st_size
    sources = [unique(source, work, i) for i in range(repeats)]

    def put(i: int) -> None:
        with sources[i].open("rb") as file:
            store.put(file, max_bytes=size)

    digests = [hashlib.sha256(s.read_bytes()).hexdigest() for s in sources]
    figures = {"put": rate(size, repeats, put), "put again (dedup)": rate(size, repeats, put)}
    figures["get"] = rate(size, repeats, lambda i: drain(store.open(digests[i])))
    return figures


def cache_rates(store: BlobStore, source: Path, work: Path, repeats: int) -> dict[str, float]:
    """A cache's first path() (download + check) and a hit (check only)."""
    size = source.stat().st_size
    with source.open("rb") as file:
        digest = store.put(file, max_bytes=size).sha256
    caches = [BlobCache(store, work / f"cache-{i}", max_bytes=2 * size) for i in range(repeats)]
    return {
        "cache first path()": rate(size, repeats, lambda i: caches[i].path(digest)),
        "cache hit path()": rate(size, repeats, lambda i: caches[0].path(digest)),
    }


def local_baseline(source: Path, work: Path, repeats: int) -> dict[str, float]:
    """A plain file copy and read of the same file."""
    size = source.stat().st_size
    return {
        "copy (shutil.copyfile)": rate(
            size, repeats, lambda i: shutil.copyfile(source, work / f"copy-{i}")
        ),
        "read (open + read)": rate(size, repeats, lambda i: drain(source.open("rb"))),
        "sha256 alone": rate(
            size, repeats, lambda i: hashlib.file_digest(source.open("rb"), "sha256")
        ),
    }


def boto3_baseline(server: S3Server, source: Path, repeats: int) -> dict[str, float]:
    """boto3's managed upload_file and a get_object read of the same file, same server."""
    size = source.stat().st_size
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )

    def get(i: int) -> None:
        drain(client.get_object(Bucket=BUCKET, Key=f"boto3/{i}")["Body"])

    return {
        "boto3 upload_file": rate(
            size, repeats, lambda i: client.upload_file(str(source), BUCKET, f"boto3/{i}")
        ),
        "boto3 get_object read": rate(size, repeats, get),
    }


def main() -> None:
    """Print MB/s for each operation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=128, help="size of the blob in MiB")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "blob"
        with source.open("wb") as out:
            for i in range(args.mb):
                out.write(hashlib.sha256(bytes([i % 256])).digest() * (CHUNK // 32))
        rows = {f"local {k}": v for k, v in local_baseline(source, work, args.repeats).items()}
        local = BlobStore(str(work / "blobs"))
        rows |= {
            f"local store {k}": v for k, v in store_rates(local, source, work, args.repeats).items()
        }
        rows |= {
            f"local {k}": v
            for k, v in cache_rates(local, source, work / "lc", args.repeats).items()
        }
        with moto_server(work / "moto.log") as server:
            rows |= {f"s3 {k}": v for k, v in boto3_baseline(server, source, args.repeats).items()}
            s3 = BlobStore(f"s3://{BUCKET}/bench", spool_dir=work / "spool", **server.options)
            rows |= {
                f"s3 store {k}": v for k, v in store_rates(s3, source, work, args.repeats).items()
            }
            rows |= {
                f"s3 {k}": v for k, v in cache_rates(s3, source, work / "sc", args.repeats).items()
            }
    print(f"blob of {args.mb} MiB, median of {args.repeats}")
    for name, value in rows.items():
        print(f"{name:40s} {value:8.0f} MB/s")


if __name__ == "__main__":
    main()
