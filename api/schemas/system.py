"""Bodies of the system routes: health, workers."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class HealthRead(BaseModel):
    """Whether the API can reach its store and its broker."""

    status: str = Field(
        description="`ok` when both dependencies answer and the reconciler keeps up, else "
        "`degraded`."
    )
    database: bool = Field(description="The store answered a query.")
    broker: bool = Field(description="The broker accepted a connection within a second.")
    reconciler: "ReconcilerRead" = Field(description="This API process's reconciler.")
    workers: int | None = Field(
        description="Live workers (`GET /workers`); null if the store did not answer. None live "
        "is not `degraded`: runs are accepted before workers start, and wait queued.",
        examples=[2],
    )


class StoreUnavailableRead(BaseModel):
    """The database did not answer; retry after the `Retry-After` header's seconds."""

    detail: str = Field(description="What failed and what to do.")


class ReconcilerRead(BaseModel):
    """What the reconciler (lost workers, lost messages) has done since this process started."""

    passes: int = Field(description="Completed passes (every `REGLAB_RECONCILE_SECONDS`).")
    runs_sent: int = Field(
        description="Runs it sent to the broker again (lapsed leases, lost or unsent messages)."
    )
    last_pass_at: datetime | None = Field(description="When the last pass completed (UTC).")
    stale: bool = Field(
        description="No pass has completed for three `REGLAB_RECONCILE_SECONDS` intervals: "
        "lost runs are not being recovered (see the API's log)."
    )


class WorkerRead(BaseModel):
    """A live worker: a Celery main process and the runs its children can train."""

    model_config = ConfigDict(from_attributes=True)

    host: str = Field(description="Host name of its machine.", examples=["gpu-node-1"])
    pid: int = Field(description="Process id of its Celery main process.", examples=[4242])
    backends: list[str] = Field(description="Backends it trains.", examples=[["torch"]])
    cuda: bool = Field(description="Trains runs that demand `device: cuda`.", examples=[True])
    concurrency: int = Field(description="Runs it trains at once.", examples=[2])
    queues: list[str] = Field(
        description="Broker queues it consumes (`.cuda`: runs that demand a GPU).",
        examples=[["reglab.torch", "reglab.torch.cuda"]],
    )
    started_at: datetime = Field(
        description="When it became ready (UTC).", examples=["2026-12-03T08:00:00Z"]
    )
    last_seen_at: datetime = Field(
        description="Its last beat (UTC); three beats missed and it counts as gone.",
        examples=["2026-12-03T09:30:05Z"],
    )
