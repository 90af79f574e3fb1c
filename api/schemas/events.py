"""The `data` of the live event streams' events, one model per event type."""

from pydantic import BaseModel, Field

from api.schemas.common import JsonFloat
from api.schemas.runs import RunErrorRead
from models.metric_names import EPOCH_METRICS
from models.store.tables import RunStatus

RUN_ID = Field(description="The run the event is about.", examples=[7])


class EpochEventRead(BaseModel):
    """`event: epoch`: a run finished an epoch (sent once per epoch, in order)."""

    run_id: int = RUN_ID
    epoch: int = Field(description="The epoch (1-based).", examples=[4])
    metrics: dict[str, JsonFloat] = Field(
        description=f"Its metrics by name, as in `GET /runs/{{id}}/metrics`: "
        f"{', '.join(EPOCH_METRICS)}; null for NaN or infinity.",
        examples=[{"train_loss": 0.31, "val_loss": 0.35, "val_acc": 0.91, "lr": 0.01}],
    )


class StatusEventRead(BaseModel):
    """`event: status`: a run's status (or its attempt) changed."""

    run_id: int = RUN_ID
    status: RunStatus = Field(description="The status it has now.", examples=["running"])
    attempt: int = Field(
        description="How many times a worker has claimed it (a new attempt after a lost "
        "worker resumes from its last checkpoint); 0 while it has never started.",
        examples=[1],
    )
    epochs_done: int = Field(description="Epochs stored so far.", examples=[0])
    error: RunErrorRead | None = Field(description="Why it failed; null unless `failed`.")


class RunEndEventRead(BaseModel):
    """`event: end` of a run's stream: the run has ended and every event of it was sent."""

    run_id: int = RUN_ID
    status: RunStatus = Field(description="Its final status.", examples=["succeeded"])
    epochs_done: int = Field(description="Epochs it stored.", examples=[15])


class ExperimentEndEventRead(BaseModel):
    """`event: end` of an experiment's stream: every run has ended and no more will start."""

    experiment_id: int = Field(description="The experiment.", examples=[3])
    progress: dict[RunStatus, int] = Field(
        description="Its runs per final status.",
        examples=[
            {"queued": 0, "running": 0, "succeeded": 5, "failed": 0, "cancelled": 0, "pruned": 1}
        ],
    )


RunEventRead = StatusEventRead | EpochEventRead | RunEndEventRead
ExperimentEventRead = StatusEventRead | EpochEventRead | ExperimentEndEventRead
