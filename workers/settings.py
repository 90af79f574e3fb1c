"""Worker settings (env prefix REGLAB_): the shared store/broker settings plus the thread budget."""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from models.messaging.queue import queue_for
from models.settings import Settings as SharedSettings


class Settings(SharedSettings):
    """Settings of a worker process."""

    concurrency: int = Field(
        default=1, ge=1, le=64, description="Runs one worker trains at once (child processes)."
    )
    threads_per_run: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Framework threads per run; 0 splits the cores evenly over `concurrency`.",
    )
    backends: str = Field(
        default="torch,tensorflow",
        description="Comma-separated backends whose queues this worker serves.",
    )

    metrics_flush_seconds: float = Field(
        default=1.0,
        ge=0.0,
        le=60.0,
        description="Epochs ending faster than this are committed together (0: every epoch): "
        "curves lag at most this long, and short epochs do not pay a commit each (a few ms).",
    )
    heartbeat_seconds: float = Field(
        default=1.0,
        gt=0.0,
        le=60.0,
        description="How often a training run renews its lease and checks for a cancel.",
    )
    run_time_limit_seconds: float = Field(
        default=86400.0,
        gt=0.0,
        le=7 * 86400.0,
        description="Longest a run may train (a spec's training.time_limit_seconds may ask "
        "for less); past it the run fails with error `timeout`.",
    )
    db_retry_seconds: float = Field(
        default=60.0,
        ge=0.0,
        le=3600.0,
        description="How long a worker retries a write while the store is unreachable.",
    )
    max_runs_per_child: int = Field(
        default=50,
        ge=1,
        le=100000,
        description="Runs a worker child trains before it is replaced by a fresh process.",
    )
    max_child_memory_mb: int = Field(
        default=8192,
        ge=256,
        le=1024 * 1024,
        description="A worker child using more resident memory than this after a run is "
        "replaced by a fresh process.",
    )
    checkpoint_every_epochs: int = Field(
        default=1,
        ge=0,
        le=100000,
        description="Checkpoint a run after every this many epochs (0: never), so a lost "
        "worker's run resumes where it was, on any worker sharing the blob store "
        "(`storage_url`).",
    )
    checkpoint_min_seconds: float = Field(
        default=10.0,
        ge=0.0,
        le=86400.0,
        description="At least this long between two checkpoints of a run, so that runs of "
        "short epochs do not spend their time writing; at most this much work is redone.",
    )
    stop_grace_seconds: float = Field(
        default=20.0,
        ge=1.0,
        le=3600.0,
        description="On SIGTERM or Ctrl-C a worker hands its runs in flight back to the queue "
        "(they resume from their checkpoints); a run not handed back within this long is "
        "left to its lease and its child process exits.",
    )
    blob_cache_dir: Path | None = Field(
        default=None,
        description="Folder of the worker's local copies of blobs (datasets), by sha256; "
        "workers on one host may share it. Empty means `<home>/blob-cache`.",
    )
    blob_cache_max_bytes: int = Field(
        default=10 * 2**30,
        ge=2**20,
        le=2**50,
        description="Bytes the blob cache holds at most; the least recently used files go "
        "first. A blob larger than this cannot be cached (its run fails).",
    )
    cuda: bool = Field(
        default=False, description="Also serve runs that demand `device: cuda` (GPU workers)."
    )
    worker_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0.0,
        le=300.0,
        description="How often a worker's main process tells the store it is alive; after "
        "three beats missed it no longer counts (`GET /workers`, a queued run's `waiting_for`).",
    )

    def served_queues(self) -> list[str]:
        """Queue names this worker consumes."""
        backends = [name.strip() for name in self.backends.split(",") if name.strip()]
        devices = ["auto", "cuda"] if self.cuda else ["auto"]
        return [queue_for(b, d) for b in backends for d in devices]

    def resolved_blob_cache_dir(self) -> Path:
        """Where the worker caches blobs."""
        return (self.blob_cache_dir or self.home / "blob-cache").resolve()

    def thread_budget(self) -> int:
        """Threads per run such that concurrency x threads <= cores."""
        if self.threads_per_run:
            return self.threads_per_run
        return max(1, (os.cpu_count() or 1) // self.concurrency)


@lru_cache
def get_settings() -> Settings:
    """The worker's settings, read once from the environment."""
    return Settings()
