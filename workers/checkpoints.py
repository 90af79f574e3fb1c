"""A run's checkpoints on disk: atomic safetensors files, the newest two kept, nothing unpickled."""

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

log = logging.getLogger(__name__)

FORMAT = "reglab-checkpoint/1"
KEEP = 2  # the newest and one to fall back on if the newest is unreadable
_NAME = re.compile(r"^epoch-(\d{6})\.safetensors$")

Tensors = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to continue a run after `epoch`: framework tensors and loop state."""

    epoch: int
    tensors: Tensors
    state: dict[str, Any]  # JSON: the training loop's own state (RNG, early stopping, ...)


class CorruptCheckpointError(Exception):
    """A checkpoint file that cannot be read back as written."""


def _digest(tensors: Tensors) -> str:
    """A hash over every tensor's name, dtype, shape and bytes (safetensors checks only sizes)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def read_checkpoint(path: Path) -> Checkpoint:
    """Load one checkpoint file; CorruptCheckpointError if it is not exactly what was written."""
    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise CorruptCheckpointError(f"{path.name}: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise CorruptCheckpointError(f"{path.name}: not a {FORMAT} file")
    if meta.get("sha256") != _digest(tensors):
        raise CorruptCheckpointError(f"{path.name}: contents do not match their checksum")
    return Checkpoint(epoch=int(meta["epoch"]), tensors=tensors, state=json.loads(meta["state"]))


class CheckpointStore:
    """One run's checkpoint folder: `epoch-NNNNNN.safetensors` files, newest `KEEP` kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _files(self) -> list[tuple[int, Path]]:
        """(epoch, path) of every checkpoint file, newest first."""
        if not self.folder.is_dir():
            return []
        found = [(int(m[1]), p) for p in self.folder.iterdir() if (m := _NAME.match(p.name))]
        return sorted(found, reverse=True)

    def save(self, checkpoint: Checkpoint) -> Path:
        """Write a checkpoint atomically, then drop all but the newest `KEEP`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "epoch": str(checkpoint.epoch),
            "state": json.dumps(checkpoint.state),
            "sha256": _digest(checkpoint.tensors),
        }
        path = self.folder / f"epoch-{checkpoint.epoch:06d}.safetensors"
        _write_atomically(path, save(checkpoint.tensors, metadata=meta))
        for _, old in self._files()[KEEP:]:
            old.unlink(missing_ok=True)
        return path

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint that reads back intact; older ones stand in for broken ones."""
        for _, path in self._files():
            try:
                return read_checkpoint(path)
            except CorruptCheckpointError as exc:
                log.warning("skipping checkpoint %s", exc)
        return None

    def remove(self) -> None:
        """Delete the run's checkpoints (the run has ended)."""
        shutil.rmtree(self.folder, ignore_errors=True)


class OrphanSweep:
    """Clears checkpoint folders of runs that are over, at most once per `every` seconds.

    A run failed `worker_lost` was ended by the reconciler, and no worker saw its end, so its
    folder stays behind until a sweep. The first call sweeps; a failed sweep is only logged.
    """

    def __init__(self, root: Path, every: float) -> None:
        self.root = root
        self.every = every
        self._last = -float("inf")

    def maybe_run(self, ended: Callable[[set[int]], set[int]]) -> list[int]:
        """Sweep if due: `ended` says which of the run ids found on disk are over."""
        if time.monotonic() - self._last < self.every:
            return []
        self._last = time.monotonic()
        try:
            folders = {int(p.name[4:]): p for p in self.root.glob("run-*") if p.name[4:].isdigit()}
            cleared = sorted(ended(set(folders))) if folders else []
        except Exception:
            log.exception("could not sweep the checkpoints of ended runs")
            return []
        for run_id in cleared:
            shutil.rmtree(folders[run_id], ignore_errors=True)
        return cleared


class RunCheckpoints:
    """A run's checkpointing as a worker does it: how often, and what must happen first."""

    def __init__(
        self,
        store: CheckpointStore,
        *,
        every_epochs: int,
        min_seconds: float,
        before_save: Callable[[], None],
        on_resume: Callable[[int], None],
    ) -> None:
        self.store = store
        self.every_epochs = every_epochs
        self.min_seconds = min_seconds
        self.before_save = before_save
        self.on_resume = on_resume
        # Timed from the start: a run shorter than `min_seconds` never pays for a checkpoint.
        self._last_saved = time.monotonic()

    def latest(self) -> Checkpoint | None:
        """The newest intact checkpoint of this run, if any."""
        return self.store.latest()

    def resumed(self, epoch: int) -> None:
        """Told once training has resumed after `epoch`."""
        log.info("resuming after the checkpoint of epoch %s", epoch)
        self.on_resume(epoch)

    def after_epoch(self, epoch: int, snapshot: Callable[[], Checkpoint]) -> None:
        """Save a checkpoint if one is due; a failed save is logged and training goes on."""
        if not self.every_epochs or epoch % self.every_epochs:
            return
        if time.monotonic() - self._last_saved < self.min_seconds:
            return
        # The curves first: a checkpoint never runs ahead of the stored epochs.
        self.before_save()
        try:
            self.store.save(snapshot())
        except OSError:
            log.exception("could not save the checkpoint of epoch %s", epoch)
        self._last_saved = time.monotonic()
