"""Checkpoints in the blob store (a folder and S3): whole objects, checksummed, the newest two
kept, broken ones skipped, an unreachable store survived."""

import stat
import tempfile
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from models import store
from models.blobs import BlobStore
from models.store.tables import RunStatus
from tests.factories import create_run
from tests.integration.stack import free_port
from workers.checkpoints import (
    Checkpoint,
    CheckpointStore,
    CorruptCheckpointError,
    OrphanSweep,
    RunCheckpoints,
)
from workers.run_policy import RunPolicy
from workers.settings import Settings

MiB = 2**20


def checkpoint(epoch: int) -> Checkpoint:
    tensors = {
        "model/0": np.full((3, 2), epoch, dtype=np.float32),
        "rng/cpu": np.arange(5, dtype=np.uint8),
        "optim/step": np.array(epoch, dtype=np.int64),
    }
    return Checkpoint(epoch, tensors, {"order_rng": {"state": 2**100 + epoch}, "val": [0.5]})


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder temporary files go to during the test (to see that none is left)."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_round_trip_is_exact(blobs: BlobStore) -> None:
    checkpoints = CheckpointStore(blobs, "checkpoints/run-1", "spec-a")
    assert checkpoints.save(checkpoint(3)) == "checkpoints/run-1/epoch-000003.safetensors"
    loaded = checkpoints.latest()
    assert loaded is not None
    assert loaded.epoch == 3
    assert loaded.state == {"order_rng": {"state": 2**100 + 3}, "val": [0.5]}
    for name, array in checkpoint(3).tensors.items():
        assert loaded.tensors[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded.tensors[name], array)


def test_only_the_newest_two_are_kept_and_no_temporary_file_remains(
    blobs: BlobStore, scratch: Path
) -> None:
    checkpoints = CheckpointStore.of_run(blobs, 7, {"a": 1})
    for epoch in range(1, 6):
        checkpoints.save(checkpoint(epoch))
    assert checkpoints.latest() is not None
    kept = [
        "checkpoints/run-7/epoch-000004.safetensors",
        "checkpoints/run-7/epoch-000005.safetensors",
    ]
    assert blobs.list_named("checkpoints") == kept
    # Nothing else in the store (a folder's spool included), nothing in the temporary folder.
    assert len(blobs.fs.find(blobs.url)) == 2
    assert list(scratch.iterdir()) == []


def rewrite(blobs: BlobStore, key: str, change: Callable[[bytes], bytes], tmp: Path) -> None:
    """Replace the object `key` by `change` of its content."""
    with blobs.open_named(key) as stored:
        (tmp / "damaged").write_bytes(change(stored.read()))
    blobs.put_named(key, tmp / "damaged")


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # torn write
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # a flipped bit
        lambda data: b"not a checkpoint",
        None,  # gone
    ],
    ids=["truncated", "flipped-bit", "garbage", "missing"],
)
def test_a_broken_newest_checkpoint_falls_back_to_the_previous(
    blobs: BlobStore, tmp_path: Path, damage: Callable[[bytes], bytes] | None
) -> None:
    checkpoints = CheckpointStore(blobs, "checkpoints/run-1", "spec-a")
    checkpoints.save(checkpoint(1))
    newest = checkpoints.save(checkpoint(2))
    if damage is None:
        blobs.delete_prefix(newest)
    else:
        rewrite(blobs, newest, damage, tmp_path)
    loaded = checkpoints.latest()
    assert loaded is not None
    assert loaded.epoch == 1
    with pytest.raises(CorruptCheckpointError, match=newest):
        checkpoints.read(newest)


def test_a_checkpoint_of_another_spec_is_not_taken(blobs: BlobStore) -> None:
    CheckpointStore(blobs, "checkpoints/run-1", "spec-a").save(checkpoint(4))
    # The run id reused with another spec (a store reset):
    assert CheckpointStore(blobs, "checkpoints/run-1", "spec-b").latest() is None
    assert CheckpointStore(blobs, "checkpoints/run-1", "spec-a").latest() is not None


def test_starting_over_drops_newer_checkpoints_so_new_ones_are_kept(
    blobs: BlobStore, tmp_path: Path
) -> None:
    checkpoints = CheckpointStore(blobs, "checkpoints/run-1", "spec-a")
    for epoch in (5, 6):  # e.g. from an older plan
        rewrite(blobs, checkpoints.save(checkpoint(epoch)), lambda _: b"broken", tmp_path)
    run = RunCheckpoints(checkpoints, every_epochs=1, min_seconds=0.0, before_save=lambda: None)
    assert run.latest() is None
    run.starting(0)
    run.after_epoch(1, partial(checkpoint, 1))
    loaded = checkpoints.latest()
    assert loaded is not None and loaded.epoch == 1
    assert blobs.list_named("checkpoints") == ["checkpoints/run-1/epoch-000001.safetensors"]


def test_strided_arrays_round_trip(blobs: BlobStore) -> None:
    checkpoints = CheckpointStore(blobs, "checkpoints/run-1", "spec-a")
    strided = np.arange(12, dtype=np.float32).reshape(3, 4).T  # not C-contiguous
    checkpoints.save(Checkpoint(1, {"w": strided}, {}))
    loaded = checkpoints.latest()
    assert loaded is not None
    np.testing.assert_array_equal(loaded.tensors["w"], strided)


def test_no_checkpoint_and_removal(blobs: BlobStore) -> None:
    checkpoints = CheckpointStore(blobs, "checkpoints/run-9", "spec-a")
    other = CheckpointStore(blobs, "checkpoints/run-90", "spec-a")
    assert checkpoints.latest() is None
    checkpoints.save(checkpoint(1))
    other.save(checkpoint(1))
    checkpoints.remove()
    assert checkpoints.latest() is None
    assert blobs.list_named("checkpoints") == ["checkpoints/run-90/epoch-000001.safetensors"]
    checkpoints.remove()  # again: nothing there, no error


def test_run_checkpoints_save_when_due_after_flushing(blobs: BlobStore) -> None:
    events: list[str] = []
    checkpoints = RunCheckpoints(
        CheckpointStore(blobs, "checkpoints/run-1", "spec-a"),
        every_epochs=2,
        min_seconds=0.0,
        before_save=lambda: events.append("flush"),
    )

    def snapshot(epoch: int) -> Checkpoint:
        events.append(f"save {epoch}")
        return checkpoint(epoch)

    for epoch in range(1, 6):
        checkpoints.after_epoch(epoch, partial(snapshot, epoch))
    assert events == ["flush", "save 2", "flush", "save 4"]


def test_run_checkpoints_wait_min_seconds_from_the_start(tmp_path: Path) -> None:
    checkpoints = RunCheckpoints(
        CheckpointStore(BlobStore(str(tmp_path)), "checkpoints/run-1", "spec-a"),
        every_epochs=1,
        min_seconds=3600.0,
        before_save=lambda: None,
    )
    for epoch in range(1, 4):
        checkpoints.after_epoch(epoch, partial(checkpoint, epoch))
    assert checkpoints.latest() is None


def test_an_unreachable_store_costs_checkpoints_not_the_run(scratch: Path) -> None:
    # Nothing listens on the port: every request fails at once (botocore's own error, which
    # s3fs does not turn into an OSError).
    unreachable = BlobStore(
        "s3://nowhere/reglab",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        key="testing",
        secret="testing",
        config_kwargs={"retries": {"max_attempts": 1}},
    )
    checkpoints = RunCheckpoints(
        CheckpointStore(unreachable, "checkpoints/run-1", "spec-a"),
        every_epochs=1,
        min_seconds=0.0,
        before_save=lambda: None,
    )
    assert checkpoints.latest() is None
    checkpoints.starting(0)
    checkpoints.after_epoch(1, partial(checkpoint, 1))  # logged, not raised
    checkpoints.store.remove()
    assert list(scratch.iterdir()) == []


def test_orphan_sweep_clears_only_checkpoints_of_ended_runs(
    session: Session, blobs: BlobStore
) -> None:
    live, lost = create_run(session), create_run(session)
    session.flush()
    lost.status = RunStatus.FAILED  # as the reconciler leaves a worker_lost run
    session.flush()
    for run_id in (live.id, lost.id, 999999):
        CheckpointStore.of_run(blobs, run_id, {}).save(checkpoint(1))
    CheckpointStore(blobs, "checkpoints/notes", "spec-a").save(checkpoint(1))
    sweep = OrphanSweep(blobs, every=3600.0)

    def ended(run_ids: set[int]) -> set[int]:
        return store.ended_runs(session=session, run_ids=run_ids)

    assert sweep.maybe_run(ended) == sorted([lost.id, 999999])
    assert blobs.list_named("checkpoints") == [
        "checkpoints/notes/epoch-000001.safetensors",
        f"checkpoints/run-{live.id}/epoch-000001.safetensors",
    ]
    CheckpointStore.of_run(blobs, lost.id, {}).save(checkpoint(2))
    assert sweep.maybe_run(ended) == []  # not due again for an hour


def test_a_worker_checkpoints_into_its_blob_store_unless_told_not_to(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, storage_url="")
    policy = RunPolicy.of(settings)
    assert policy.checkpoint_store is not None
    assert policy.checkpoint_store.url == str(tmp_path.resolve() / "blobs")
    off = settings.model_copy(update={"checkpoint_every_epochs": 0})
    assert RunPolicy.of(off).checkpoint_store is None


def test_local_checkpoints_are_owner_only(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "elsewhere" / "blobs"))
    key = CheckpointStore(blobs, "checkpoints/run-1", "spec-a").save(checkpoint(1))
    saved = tmp_path / "elsewhere" / "blobs" / "named" / key
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    for folder in (saved.parent, saved.parent.parent, tmp_path / "elsewhere" / "blobs"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_saving_and_loading_do_not_hold_the_checkpoint_twice(blobs: BlobStore) -> None:
    big = Checkpoint(1, {f"w{i}": np.full(2 * MiB, i, dtype=np.float32) for i in range(5)}, {})
    checkpoints = CheckpointStore(blobs, "checkpoints/run-1", "spec-a")
    checkpoints.save(checkpoint(1))  # the S3 client's one-off setup
    tracemalloc.start()
    try:
        checkpoints.save(big)  # 40 MiB of tensors, already in memory
        save_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        loaded = checkpoints.latest()
        load_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded is not None and loaded.tensors["w4"][-1] == 4
    # Written from the arrays' own buffers; sent in 8 MiB parts (held twice) to S3.
    assert save_peak < 24 * MiB, save_peak
    # The 40 MiB that come back, and a reader's buffers besides.
    assert load_peak < (40 + 24) * MiB, load_peak
