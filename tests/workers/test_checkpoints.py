"""The checkpoint files: atomic, checksummed, the newest two kept, broken ones skipped."""

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from models import store
from models.store.tables import RunStatus
from tests.factories import create_run
from workers.checkpoints import (
    Checkpoint,
    CheckpointStore,
    CorruptCheckpointError,
    OrphanSweep,
    RunCheckpoints,
    read_checkpoint,
)


def checkpoint(epoch: int) -> Checkpoint:
    tensors = {
        "model/0": np.full((3, 2), epoch, dtype=np.float32),
        "rng/cpu": np.arange(5, dtype=np.uint8),
        "optim/step": np.array(epoch, dtype=np.int64),
    }
    return Checkpoint(epoch, tensors, {"order_rng": {"state": 2**100 + epoch}, "val": [0.5]})


def test_round_trip_is_exact(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "run-1", "spec-a")
    store.save(checkpoint(3))
    loaded = store.latest()
    assert loaded is not None
    assert loaded.epoch == 3
    assert loaded.state == {"order_rng": {"state": 2**100 + 3}, "val": [0.5]}
    for name, array in checkpoint(3).tensors.items():
        assert loaded.tensors[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded.tensors[name], array)


def test_only_the_newest_two_are_kept_and_no_temporary_file_remains(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "spec-a")
    for epoch in range(1, 6):
        store.save(checkpoint(epoch))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["epoch-000004.safetensors", "epoch-000005.safetensors"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # torn write
        lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])),  # bit
        lambda p: p.write_bytes(b"not a checkpoint"),
        lambda p: p.unlink(),
    ],
    ids=["truncated", "flipped-bit", "garbage", "missing"],
)
def test_a_broken_newest_checkpoint_falls_back_to_the_previous(
    tmp_path: Path, damage: Callable[[Path], object]
) -> None:
    store = CheckpointStore(tmp_path, "spec-a")
    store.save(checkpoint(1))
    newest = store.save(checkpoint(2))
    damage(newest)
    loaded = store.latest()
    assert loaded is not None
    assert loaded.epoch == 1
    if newest.exists():
        with pytest.raises(CorruptCheckpointError):
            read_checkpoint(newest, "spec-a")


def test_a_checkpoint_of_another_spec_is_not_taken(tmp_path: Path) -> None:
    CheckpointStore(tmp_path, "spec-a").save(checkpoint(4))
    assert CheckpointStore(tmp_path, "spec-b").latest() is None  # run id reused, new spec
    assert CheckpointStore(tmp_path, "spec-a").latest() is not None


def test_starting_over_drops_newer_checkpoints_so_new_ones_are_kept(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "spec-a")
    for epoch in (5, 6):
        store.save(checkpoint(epoch)).write_bytes(b"broken")  # e.g. from an older plan
    checkpoints = RunCheckpoints(store, every_epochs=1, min_seconds=0.0, before_save=lambda: None)
    assert checkpoints.latest() is None
    checkpoints.starting(0)
    checkpoints.after_epoch(1, partial(checkpoint, 1))
    loaded = store.latest()
    assert loaded is not None and loaded.epoch == 1


def test_strided_arrays_round_trip(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "spec-a")
    strided = np.arange(12, dtype=np.float32).reshape(3, 4).T  # not C-contiguous
    store.save(Checkpoint(1, {"w": strided}, {}))
    loaded = store.latest()
    assert loaded is not None
    np.testing.assert_array_equal(loaded.tensors["w"], strided)


def test_no_checkpoint_and_removal(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "run-9", "spec-a")
    assert store.latest() is None
    store.save(checkpoint(1))
    store.remove()
    assert not store.folder.exists()
    assert store.latest() is None


def test_run_checkpoints_save_when_due_after_flushing(tmp_path: Path) -> None:
    events: list[str] = []
    checkpoints = RunCheckpoints(
        CheckpointStore(tmp_path, "spec-a"),
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
        CheckpointStore(tmp_path, "spec-a"),
        every_epochs=1,
        min_seconds=3600.0,
        before_save=lambda: None,
    )
    for epoch in range(1, 4):
        checkpoints.after_epoch(epoch, partial(checkpoint, epoch))
    assert checkpoints.latest() is None


def test_orphan_sweep_clears_only_folders_of_ended_runs(session: Session, tmp_path: Path) -> None:
    live, lost = create_run(session), create_run(session)
    session.flush()
    lost.status = RunStatus.FAILED  # as the reconciler leaves a worker_lost run
    session.flush()
    for name in (f"run-{live.id}", f"run-{lost.id}", "run-999999", "run-notes"):
        (tmp_path / name).mkdir()
    sweep = OrphanSweep(tmp_path, every=3600.0)

    def ended(run_ids: set[int]) -> set[int]:
        return store.ended_runs(session=session, run_ids=run_ids)

    assert sweep.maybe_run(ended) == sorted([lost.id, 999999])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"run-{live.id}", "run-notes"])
    (tmp_path / f"run-{lost.id}").mkdir()
    assert sweep.maybe_run(ended) == []  # not due again for an hour


def test_checkpoint_folders_are_created_owner_only(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "elsewhere" / "checkpoints" / "run-1", "spec-a")
    saved = store.save(checkpoint(1))
    for folder in (tmp_path / "elsewhere", saved.parent.parent, saved.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
