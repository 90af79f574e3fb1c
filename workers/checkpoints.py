"""A run's checkpoints in the blob store: whole safetensors objects, the newest two kept.

Named objects `checkpoints/run-<id>/epoch-NNNNNN.safetensors` of `REGLAB_STORAGE_URL`, so that
workers on several hosts that share the store resume each other's runs. Nothing is unpickled.
"""

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from shutil import copyfileobj
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]
from numpy.typing import NDArray
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from models.blobs import BlobStore
from models.fingerprint import fingerprint

log = logging.getLogger(__name__)

FORMAT = "reglab-checkpoint/1"
PREFIX = "checkpoints"
KEEP = 2  # the newest and one to fall back on if the newest is unreadable
COPY_BYTES = 2**20
_NAME = re.compile(r"^epoch-(\d{6})\.safetensors$")
_RUN = re.compile(r"^run-(\d+)$")  # a run's prefix, as `CheckpointStore.of_run` names it
# What an unreachable or failing store raises: s3fs turns S3's answers into OSErrors but lets
# botocore's own (no connection, timeouts) through.
STORE_ERRORS = (OSError, BotoCoreError)

Tensors = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to continue a run after `epoch`: framework tensors and loop state."""

    epoch: int
    tensors: Tensors
    state: dict[str, Any]  # JSON: the training loop's own state (RNG, early stopping, ...)


class CorruptCheckpointError(Exception):
    """A checkpoint that cannot be read back as written."""


def _digest(tensors: Tensors, *texts: str) -> str:
    """A hash over every tensor's name, dtype, shape and bytes (safetensors checks only sizes)
    and the metadata `texts`."""
    digest = hashlib.sha256("|".join(texts).encode())
    for name in sorted(tensors):
        array = np.require(tensors[name], requirements="C")
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.reshape(-1).view(np.uint8).data)  # the buffer itself, not a copy
    return digest.hexdigest()


def write_checkpoint(path: Path, checkpoint: Checkpoint, identity: str) -> None:
    """Write `checkpoint` of the run `identity` names as the safetensors file `path`."""
    # safetensors writes an array's buffer as it lies (no copy): make each one contiguous.
    tensors = {k: np.require(v, requirements="C") for k, v in checkpoint.tensors.items()}
    epoch, state = str(checkpoint.epoch), json.dumps(checkpoint.state)
    meta = {
        "format": FORMAT,
        "epoch": epoch,
        "state": state,
        "identity": identity,
        "sha256": _digest(tensors, state, epoch, identity),
    }
    save_file(tensors, path, metadata=meta)


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
            raise CorruptCheckpointError(f"not a {FORMAT} file")
        if meta.get("sha256") != _digest(tensors, meta["state"], meta["epoch"], meta["identity"]):
            raise CorruptCheckpointError("contents do not match their checksum")
        if meta["identity"] != identity:
            raise CorruptCheckpointError("written for another run")
        return Checkpoint(int(meta["epoch"]), tensors, json.loads(meta["state"]))
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise CorruptCheckpointError(str(exc)) from exc


@contextmanager
def _scratch_file() -> Iterator[Path]:
    """A temporary file of this process (mode 0600), removed after the block."""
    fd, name = tempfile.mkstemp(prefix="reglab-checkpoint-")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


class CheckpointStore:
    """One run's checkpoints under `prefix` of a blob store, the newest `KEEP` kept.

    `identity` ties the objects to one run (a hash of its resolved spec, say).
    """

    def __init__(self, blobs: BlobStore, prefix: str, identity: str) -> None:
        self.blobs = blobs
        self.prefix = prefix
        self.identity = identity

    @classmethod
    def of_run(cls, blobs: BlobStore, run_id: int, spec: Mapping[str, Any]) -> "CheckpointStore":
        """The checkpoints of run `run_id` in `blobs`, tied to its spec."""
        return cls(blobs, f"{PREFIX}/run-{run_id}", fingerprint(spec))

    def keys(self) -> list[tuple[int, str]]:
        """(epoch, key) of every checkpoint object, newest first."""
        found = []
        for key in self.blobs.list_named(self.prefix):
            if match := _NAME.match(key.rsplit("/", 1)[-1]):
                found.append((int(match[1]), key))
        return sorted(found, reverse=True)

    def save(self, checkpoint: Checkpoint) -> str:
        """Store a checkpoint as one object (readers see all of it or none), then drop all but
        the newest `KEEP`; returns its key."""
        key = f"{self.prefix}/epoch-{checkpoint.epoch:06d}.safetensors"
        with _scratch_file() as scratch:
            write_checkpoint(scratch, checkpoint, self.identity)
            self.blobs.put_named(key, scratch)
        for _, old in self.keys()[KEEP:]:
            self.blobs.delete_prefix(old)
        return key

    def read(self, key: str) -> Checkpoint:
        """The checkpoint stored under `key`; CorruptCheckpointError if it is not intact."""
        with _scratch_file() as scratch:
            try:
                # A local file to map: tensors are copied out of it once, not out of a buffer.
                with self.blobs.open_named(key) as source, scratch.open("wb") as copy:
                    copyfileobj(source, copy, COPY_BYTES)
                return read_checkpoint(scratch, self.identity)
            except (CorruptCheckpointError, LookupError, *STORE_ERRORS) as exc:
                raise CorruptCheckpointError(f"{key}: {exc}") from exc

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint that reads back intact; older ones stand in for broken ones."""
        try:
            keys = self.keys()
        except STORE_ERRORS:
            log.exception("cannot list the checkpoints under %s", self.prefix)
            return None
        for _, key in keys:
            try:
                return self.read(key)
            except CorruptCheckpointError as exc:
                log.warning("skipping checkpoint %s", exc)
        return None

    def drop_after(self, epoch: int) -> None:
        """Delete checkpoints of epochs after `epoch` (broken, or of an attempt now replaced)."""
        try:
            for newer, key in self.keys():
                if newer > epoch:
                    self.blobs.delete_prefix(key)
        except STORE_ERRORS:
            log.exception("cannot clear the checkpoints under %s", self.prefix)

    def remove(self) -> None:
        """Delete the run's checkpoints (the run has ended)."""
        try:
            self.blobs.delete_prefix(self.prefix)
        except STORE_ERRORS:
            log.exception("cannot remove the checkpoints under %s", self.prefix)


class OrphanSweep:
    """Clears checkpoints of runs that are over, at most once per `every` seconds.

    A run failed `worker_lost` was ended by the reconciler, and no worker saw its end, so its
    checkpoints stay behind until a sweep. The first call sweeps; a failed sweep is only logged.
    """

    def __init__(self, blobs: BlobStore, every: float) -> None:
        self.blobs = blobs
        self.every = every
        self._last = -float("inf")

    def maybe_run(self, ended: Callable[[set[int]], set[int]]) -> list[int]:
        """Sweep if due: `ended` says which of the run ids found in the store are over."""
        if time.monotonic() - self._last < self.every:
            return []
        self._last = time.monotonic()
        try:
            runs = {
                m[1]
                for key in self.blobs.list_named(PREFIX)
                if (m := _RUN.match(key.split("/")[1]))
            }
            cleared = sorted(ended({int(run) for run in runs})) if runs else []
            for run_id in cleared:
                self.blobs.delete_prefix(f"{PREFIX}/run-{run_id}")
        except Exception:
            log.exception("could not sweep the checkpoints of ended runs")
            return []
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
        checkpoint = snapshot()
        try:
            self.store.save(checkpoint)
        except (SafetensorError, *STORE_ERRORS):  # safetensors reports a full disk its own way
            log.exception("could not save the checkpoint of epoch %s", epoch)
        self._last_saved = time.monotonic()
