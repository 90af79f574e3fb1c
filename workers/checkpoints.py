"""A run's checkpoints on disk: atomic safetensors files, the newest two kept, nothing unpickled."""

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from models.fingerprint import fingerprint
from models.settings import owner_only_folder

log = logging.getLogger(__name__)

FORMAT = "reglab-checkpoint/1"
KEEP = 2  # the newest and one to fall back on if the newest is unreadable
_NAME = re.compile(r"^epoch-(\d{6})\.safetensors$")
_RUN = re.compile(r"^run-(\d+)$")  # a run's folder, as `CheckpointStore.of_run` names it

Tensors = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to continue a run after `epoch`: framework tensors and loop state."""

    epoch: int
    tensors: Tensors
    state: dict[str, Any]  # JSON: the training loop's own state (RNG, early stopping, ...)


class CorruptCheckpointError(Exception):
    """A checkpoint file that cannot be read back as written."""


def _digest(tensors: Tensors, *texts: str) -> str:
    """A hash over every tensor's name, dtype, shape and bytes (safetensors checks only sizes)
    and the metadata `texts`."""
    digest = hashlib.sha256("|".join(texts).encode())
    for name in sorted(tensors):
        array = np.require(tensors[name], requirements="C")
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the whole new one."""
    # Unique across hosts sharing the volume (containers often share pids).
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def read_checkpoint(path: Path, identity: str) -> Checkpoint:
    """Load one checkpoint file of the run `identity` names.

    CorruptCheckpointError if it is not exactly what was written, or was written for another
    run (a run id reused after the store was reset, with another spec).
    """
    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        if meta.get("format") != FORMAT:
            raise CorruptCheckpointError(f"{path.name}: not a {FORMAT} file")
        if meta.get("sha256") != _digest(tensors, meta["state"], meta["epoch"], meta["identity"]):
            raise CorruptCheckpointError(f"{path.name}: contents do not match their checksum")
        if meta["identity"] != identity:
            raise CorruptCheckpointError(f"{path.name}: written for another run")
        return Checkpoint(int(meta["epoch"]), tensors, json.loads(meta["state"]))
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise CorruptCheckpointError(f"{path.name}: {exc}") from exc


class CheckpointStore:
    """One run's checkpoint folder: `epoch-NNNNNN.safetensors` files, newest `KEEP` kept.

    `identity` ties the files to one run (a hash of its resolved spec, say).
    """

    def __init__(self, folder: Path, identity: str) -> None:
        self.folder = folder
        self.identity = identity

    @classmethod
    def of_run(cls, root: Path, run_id: int, spec: Mapping[str, Any]) -> "CheckpointStore":
        """The checkpoints of run `run_id` under `root`, tied to its spec."""
        return cls(root / f"run-{run_id}", fingerprint(spec))

    def _files(self) -> list[tuple[int, Path]]:
        """(epoch, path) of every checkpoint file, newest first."""
        if not self.folder.is_dir():
            return []
        found = [(int(m[1]), p) for p in self.folder.iterdir() if (m := _NAME.match(p.name))]
        return sorted(found, reverse=True)

    def save(self, checkpoint: Checkpoint) -> Path:
        """Write a checkpoint atomically, then drop all but the newest `KEEP`."""
        owner_only_folder(self.folder)  # REGLAB_CHECKPOINT_DIR may lie outside the home
        # safetensors writes an array's buffer as it lies: make each one contiguous first.
        tensors = {k: np.require(v, requirements="C") for k, v in checkpoint.tensors.items()}
        epoch, state = str(checkpoint.epoch), json.dumps(checkpoint.state)
        meta = {
            "format": FORMAT,
            "epoch": epoch,
            "state": state,
            "identity": self.identity,
            "sha256": _digest(tensors, state, epoch, self.identity),
        }
        path = self.folder / f"epoch-{checkpoint.epoch:06d}.safetensors"
        _write_atomically(path, save(tensors, metadata=meta))
        for _, old in self._files()[KEEP:]:
            old.unlink(missing_ok=True)
        return path

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint that reads back intact; older ones stand in for broken ones."""
        try:
            files = self._files()
        except OSError:
            log.exception("cannot list the checkpoints in %s", self.folder)
            return None
        for _, path in files:
            try:
                return read_checkpoint(path, self.identity)
            except CorruptCheckpointError as exc:
                log.warning("skipping checkpoint %s", exc)
        return None

    def drop_after(self, epoch: int) -> None:
        """Delete checkpoints of epochs after `epoch` (broken, or of an attempt now replaced)."""
        try:
            for newer, path in self._files():
                if newer > epoch:
                    path.unlink(missing_ok=True)
        except OSError:
            log.exception("cannot clear the checkpoints in %s", self.folder)

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
        if not self.root.is_dir():
            return []
        try:
            folders = {int(m[1]): p for p in self.root.iterdir() if (m := _RUN.match(p.name))}
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
    ) -> None:
        self.store = store
        self.every_epochs = every_epochs
        self.min_seconds = min_seconds
        self.before_save = before_save
        # Timed from the start: a run shorter than `min_seconds` never pays for a checkpoint.
        self._last_saved = time.monotonic()

    def latest(self) -> Checkpoint | None:
        """The newest intact checkpoint of this run, if any."""
        return self.store.latest()

    def starting(self, epoch: int) -> None:
        """Told where training starts (after `epoch`; 0: from scratch): newer files go."""
        if epoch:
            log.info("resuming after the checkpoint of epoch %s", epoch)
        self.store.drop_after(epoch)

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
