"""Bodies of the run routes."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import JsonFloat, key_field
from models.metric_names import SUMMARY_METRICS
from models.store.tables import RunStatus


class RunErrorRead(BaseModel):
    """Why a run failed."""

    type: str = Field(
        description="`diverged`, `timeout`, `worker_lost`, `device_unavailable`, "
        "`invalid_spec`, `dataset_missing` (the uploaded version was deleted before the run "
        "started), `invalid_dataset` (the upload breaks this worker's `REGLAB_INGEST_*` "
        "bounds), `exception`",
        examples=["diverged"],
    )
    message: str = Field(description="Readable explanation.")
    epoch: int | None = Field(description="Epoch in which it happened, if during training.")


class RunRead(BaseModel):
    """One run: its resolved spec, progress, summary and error."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Run id.", examples=[1])
    experiment_id: int = Field(description="The experiment this run belongs to.")
    status: RunStatus = Field(description="queued, running, succeeded, failed, cancelled, pruned.")
    backend: str = Field(description="Framework that trains it.", examples=["torch"])
    seed: int = Field(description="The run's seed (weights, batch order, dropout masks).")
    spec: dict[str, Any] = Field(description="The resolved spec this run trains, defaults filled.")
    epochs_done: int = Field(description="Epochs whose metrics are stored.")
    attempts: int = Field(description="Times a worker has claimed this run.")
    resumed_from_epoch: int | None = Field(
        description="The epoch whose checkpoint the latest attempt continued after (a worker "
        "was lost before); null if it trained from epoch 1.",
        examples=[None],
    )
    worker: str | None = Field(
        description="`host:pid` of the process training it (or that last did); null if none."
    )
    summary: dict[str, JsonFloat] | None = Field(
        description=f"Final figures once succeeded: {', '.join(SUMMARY_METRICS)}."
    )
    error: RunErrorRead | None = Field(description="Why it failed; null unless failed.")
    created_at: datetime = Field(description="When the run was accepted (UTC).")
    started_at: datetime | None = Field(description="When a worker claimed it (UTC).")
    finished_at: datetime | None = Field(description="When it reached a terminal status (UTC).")
    cancelled_by_key: str | None = key_field("cancelled")
    environment: dict[str, str | int | None] | None = Field(
        description="What its latest attempt trained in, recorded as it started: `framework` "
        "and `framework_version` (`keras_version` too on tensorflow), `device` (`cpu` or the "
        "GPU's model), `host`, `python_version`, `numpy_version`, `reglab_version` and "
        "`threads` (the framework's intra-op threads); null until a worker starts it.",
        examples=[
            {
                "framework": "torch",
                "framework_version": "2.5.1",
                "device": "NVIDIA H200",
                "host": "gpu-node-1",
                "python_version": "3.11.10",
                "numpy_version": "2.1.3",
                "reglab_version": "0.1.0",
                "threads": 8,
            }
        ],
    )
    dataset_version: int | None = Field(
        description="The version of the uploaded dataset its latest attempt trained on; null "
        "for built-in data and before a worker starts it.",
        examples=[2],
    )
    dataset_sha256: str | None = Field(
        description="The sha256 of that uploaded file, the exact bytes trained on.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    waiting_for: str | None = Field(
        description="Queued runs only: what no live worker offers, so the run cannot start "
        "until one does (see `GET /workers`); null once some live worker serves its queue.",
        examples=["a worker with CUDA for torch"],
    )


class MetricsRead(BaseModel):
    """Curves aligned on shared epochs; null where a value is missing, NaN or infinite."""

    run_id: int = Field(description="The run these curves belong to.")
    epochs: list[int] = Field(description="Epoch numbers (1-based), shared by every series.")
    series: dict[str, list[JsonFloat]] = Field(
        description="One list per metric, aligned with `epochs`.",
        examples=[{"train_loss": [2.1, 0.4], "val_acc": [0.66, 0.93]}],
    )
