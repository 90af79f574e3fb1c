"""The blob store, over a local folder and a real S3-compatible server (moto)."""

import hashlib
import io
import os
import stat
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.blobs import BlobNotFoundError, BlobRef, BlobStore, BlobTooLargeError, blob_store
from models.settings import Settings
from tests.models.blobs.s3server import BUCKET, S3Server

MiB = 2**20


def leftovers(blobs: BlobStore, tmp_path: Path) -> set[str]:
    """Every object under the store's URL and every file under the test's folder (spools)."""
    files = {str(p) for p in tmp_path.rglob("*") if p.is_file()}
    return files | {str(key) for key in blobs.fs.find(blobs.url)}


def chunks(n: int, size: int = MiB) -> Iterator[bytes]:
    """n chunks of distinct content, made one at a time."""
    for i in range(n):
        yield bytes([i % 251]) * size


def test_round_trip(blobs: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    ref = blobs.put(io.BytesIO(data), max_bytes=len(data))
    assert ref == BlobRef(hashlib.sha256(data).hexdigest(), len(data))
    with blobs.open(ref.sha256) as stored:
        assert stored.read() == data
    assert (blobs.exists(ref.sha256), blobs.size(ref.sha256)) == (True, len(data))
    blobs.download(ref.sha256, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == data
    assert blobs.put_bytes(b"") == BlobRef(hashlib.sha256(b"").hexdigest(), 0)
    blobs.delete(ref.sha256)
    assert not blobs.exists(ref.sha256)


def test_same_content_is_stored_once(blobs: BlobStore, tmp_path: Path) -> None:
    data = b"".join(chunks(3, 1000))
    first = blobs.put(chunks(3, 1000), max_bytes=10**6)
    again = blobs.put_bytes(data)
    assert first == again == BlobRef(hashlib.sha256(data).hexdigest(), 3000)
    digest = first.sha256
    assert sorted(blobs.fs.find(blobs.url)) == [
        blobs.fs._strip_protocol(f"{blobs.url}/sha256/{digest[:2]}/{digest}")
    ]
    assert leftovers(blobs, tmp_path) == {str(key) for key in blobs.fs.find(blobs.url)}


def test_50_mb_stream_in_and_out_in_bounded_memory(blobs: BlobStore, tmp_path: Path) -> None:
    expected = hashlib.sha256()
    for chunk in chunks(50):
        expected.update(chunk)
    blobs.open(blobs.put_bytes(b"warm-up").sha256).close()  # the S3 client's one-off setup
    tracemalloc.start()
    try:
        ref = blobs.put(chunks(50), max_bytes=50 * MiB)
        put_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        read_back = hashlib.sha256()
        with blobs.open(ref.sha256) as stored:
            while chunk := stored.read(MiB):
                read_back.update(chunk)
        get_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        blobs.download(ref.sha256, tmp_path / "copy")
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (ref.size, read_back.hexdigest()) == (50 * MiB, expected.hexdigest())
    with (tmp_path / "copy").open("rb") as copy:
        assert hashlib.file_digest(copy, "sha256").hexdigest() == expected.hexdigest()
    assert download_peak < 4 * MiB, download_peak
    # An S3 upload holds an 8 MiB part twice, a reader ~3 blocks of 4 MiB; a folder 1 MiB chunks.
    assert put_peak < 24 * MiB, put_peak
    assert get_peak < 24 * MiB, get_peak


def test_past_max_bytes_nothing_is_left(blobs: BlobStore, tmp_path: Path) -> None:
    consumed = []

    def body() -> Iterator[bytes]:
        for chunk in chunks(100):
            consumed.append(len(chunk))
            yield chunk

    with pytest.raises(BlobTooLargeError, match=f"larger than {5 * MiB} bytes") as error:
        blobs.put(body(), max_bytes=5 * MiB)
    assert error.value.max_bytes == 5 * MiB
    assert len(consumed) == 6  # it stops reading at the first chunk past the bound
    assert leftovers(blobs, tmp_path) == set()


def test_a_writer_can_be_checked_before_commit_or_dropped(blobs: BlobStore, tmp_path: Path) -> None:
    with blobs.writer(max_bytes=100) as writer:
        writer.write(b"not what we wanted")
        assert writer.spooled().read_bytes() == b"not what we wanted"
    assert leftovers(blobs, tmp_path) == set()
    with blobs.writer(max_bytes=100) as writer:
        writer.write(b"fine")
        ref = writer.commit()
    with blobs.open(ref.sha256) as stored:
        assert stored.read() == b"fine"


def test_missing_and_malformed_digests(blobs: BlobStore, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(BlobNotFoundError, match=f"no blob sha256:{digest} in the blob store"):
        blobs.open(digest)
    with pytest.raises(BlobNotFoundError, match=digest):
        blobs.size(digest)
    with pytest.raises(BlobNotFoundError, match=digest):
        blobs.download(digest, tmp_path / "copy")
    assert not blobs.exists(digest)
    blobs.delete(digest)  # a no-op: deletes can be retried
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        blobs.open("../../etc/passwd")


def test_named_objects_are_replaced_and_deleted_by_prefix(blobs: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "source"
    for key, content in [
        ("ckpt/run-1/a", b"1a"),
        ("ckpt/run-1/a", b"1a'"),
        ("ckpt/run-10/a", b"10"),
    ]:
        source.write_bytes(content)
        blobs.put_named(key, source)
    with blobs.open_named("ckpt/run-1/a") as stored:
        assert stored.read() == b"1a'"
    blobs.delete_prefix("ckpt/run-1")
    blobs.delete_prefix("ckpt/run-1")  # again: nothing there, no error
    with pytest.raises(BlobNotFoundError, match="no object 'ckpt/run-1/a'"):
        blobs.open_named("ckpt/run-1/a")
    with blobs.open_named("ckpt/run-10/a") as stored:
        assert stored.read() == b"10"
    for bad in ["../x", "/abs", "a//b", ".spool/x", "a/../b", ""]:
        with pytest.raises(ValueError, match="not a blob key"):
            blobs.put_named(bad, source)


def test_named_objects_are_listed_under_a_prefix(blobs: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x")
    assert blobs.list_named("ckpt") == []  # nothing stored yet: no prefix, no error
    for key in ["ckpt/run-2/b", "ckpt/run-1/a", "ckpt/run-10/a", "ckpt-old/run-1/a"]:
        blobs.put_named(key, source)
    blobs.put_bytes(b"a blob, not a named object")
    assert blobs.list_named("ckpt") == ["ckpt/run-1/a", "ckpt/run-10/a", "ckpt/run-2/b"]
    assert blobs.list_named("ckpt/run-1") == ["ckpt/run-1/a"]
    assert blobs.list_named("ckpt/run-1/a") == []  # an object, not a prefix
    blobs.delete_prefix("ckpt/run-1/a")
    assert blobs.list_named("ckpt/run-1") == []
    with pytest.raises(ValueError, match="not a blob key"):
        blobs.list_named("../sha256")


def test_local_blobs_are_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # under which plain creation would be world-readable
    try:
        settings = Settings(home=tmp_path / "home")
        blobs = blob_store(settings)
        ref = blobs.put_bytes(b"secret data")
        source = tmp_path / "plain"
        source.write_bytes(b"checkpoint")
        blobs.put_named("ckpt/x", source)
    finally:
        os.umask(previous)
    root = settings.home.resolve() / "blobs"
    assert blobs.url == str(root)
    files = [root / "sha256" / ref.sha256[:2] / ref.sha256, root / "named" / "ckpt" / "x"]
    folders = [
        settings.home,
        root,
        root / "sha256",
        root / "sha256" / ref.sha256[:2],
        files[1].parent,
    ]
    modes = {str(p): stat.S_IMODE(p.stat().st_mode) for p in files + folders}
    assert modes == {str(p): 0o600 for p in files} | {str(p): 0o700 for p in folders}


def test_settings_reach_s3_through_the_aws_variables(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "REGLAB_STORAGE_URL": f"s3://{BUCKET}/from-settings",
        "AWS_ENDPOINT_URL_S3": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    blobs = blob_store(Settings(home=tmp_path / "home"))
    ref = blobs.put_bytes(b"via the environment")
    with BlobStore(f"s3://{BUCKET}/from-settings", **s3_server.options).open(ref.sha256) as f:
        assert f.read() == b"via the environment"
    assert list((tmp_path / "home" / "spool").iterdir()) == []
