"""Request and response bodies of REST v1."""

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from models.metric_names import SUMMARY_METRICS
from models.search.spec import SearchSpec
from models.spec import ExperimentSpec
from models.store.tables import RunStatus


def _finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged value reads as null."""
    return value if value is not None and math.isfinite(value) else None


JsonFloat = Annotated[float | None, BeforeValidator(_finite_or_none)]
SPEC_EXAMPLE: dict[str, Any] = ExperimentSpec.model_config["json_schema_extra"]["example"]  # type: ignore[index,assignment]


class ExperimentCreate(BaseModel):
    """A named spec to train: one run, or with `search`, one run per configuration and seed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"name": "digits-dropout-bn", "spec": SPEC_EXAMPLE}},
    )

    name: str = Field(min_length=1, max_length=200, description="Human-readable label.")
    spec: ExperimentSpec = Field(
        description="What to train; validated, and resolved against its dataset (parameter "
        "and data-size bounds), before anything is stored."
    )
    search: SearchSpec | None = Field(
        default=None,
        description="Vary spec fields over a grid, random draws or TPE; every configuration "
        "it can produce is validated like `spec` before anything is stored.",
    )


class RunErrorRead(BaseModel):
    """Why a run failed."""

    type: str = Field(
        description="`diverged`, `timeout`, `worker_lost`, `device_unavailable`, "
        "`invalid_spec`, `exception`"
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
    waiting_for: str | None = Field(
        description="Queued runs only: what no live worker offers, so the run cannot start "
        "until one does (see `GET /workers`); null once some live worker serves its queue.",
        examples=["a worker with CUDA for torch"],
    )


class RunStatusRead(BaseModel):
    """A run's id, status and progress, as listed in its experiment."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Run id; `GET /runs/{id}` for the whole run.")
    status: RunStatus = Field(description="Current status.")
    epochs_done: int = Field(description="Epochs whose metrics are stored.")
    seed: int = Field(description="The run's seed.")
    configuration: int | None = Field(
        description="Search only: index of its configuration (its seeds share it)."
    )
    objective_value: JsonFloat = Field(
        description="Search only: the objective's value once the run has ended."
    )


class BestRunRead(BaseModel):
    """The best run of a search so far."""

    run_id: int = Field(description="Run id.")
    objective: JsonFloat = Field(description="Its objective value.")
    values: dict[str, Any] = Field(description="The searched spec fields, with its values.")


class ExperimentRead(BaseModel):
    """An experiment, its base spec and its runs."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Experiment id.", examples=[1])
    name: str = Field(description="The name given at submission.")
    spec: dict[str, Any] = Field(description="The base spec, defaults filled.")
    created_at: datetime = Field(description="When it was accepted (UTC).")
    cancelled_at: datetime | None = Field(description="When it was cancelled (UTC), if it was.")
    search: dict[str, Any] | None = Field(description="The search, defaults filled; null: one run.")
    runs: list[RunStatusRead] = Field(description="Its runs, oldest first.")
    progress: dict[RunStatus, int] = Field(description="Number of runs in each status.")
    runs_planned: int = Field(description="Runs the experiment will have once fully expanded.")
    best_run: BestRunRead | None = Field(
        description="Search only: the succeeded run with the best objective so far."
    )


class MetricsRead(BaseModel):
    """Curves aligned on shared epochs; null where a value is missing, NaN or infinite."""

    run_id: int = Field(description="The run these curves belong to.")
    epochs: list[int] = Field(description="Epoch numbers (1-based), shared by every series.")
    series: dict[str, list[JsonFloat]] = Field(
        description="One list per metric, aligned with `epochs`.",
        examples=[{"train_loss": [2.1, 0.4], "val_acc": [0.66, 0.93]}],
    )


class DatasetRead(BaseModel):
    """A built-in dataset with its default parameters and resulting shape."""

    name: str = Field(description="Use as `spec.dataset.name`.", examples=["digits"])
    description: str = Field(description="What the data is and what `noise` means for it.")
    input_shape: list[int] = Field(description="Shape of one example with default parameters.")
    n_classes: int = Field(description="Number of classes with default parameters.")
    n_samples: int = Field(description="Samples before the split, with default parameters.")
    params: dict[str, float] = Field(description="Parameters a spec may set, with defaults.")


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


class IntervalRead(BaseModel):
    """Seed mean and 95% t-interval (low = high = mean for a single seed)."""

    mean: JsonFloat = Field(description="Mean over the group's seeds.")
    low: JsonFloat = Field(description="Lower end of the 95% confidence interval.")
    high: JsonFloat = Field(description="Upper end of the 95% confidence interval.")
    n: int = Field(description="Seeds with a finite value.")


class BandRead(BaseModel):
    """One curve's seed mean and 95% interval per epoch, over the epochs all seeds have."""

    epochs: list[int] = Field(description="Epochs every run of the group has.")
    mean: list[JsonFloat] = Field(description="Mean per epoch.")
    low: list[JsonFloat] = Field(description="Lower end of the interval per epoch.")
    high: list[JsonFloat] = Field(description="Upper end of the interval per epoch.")


class SeedGroupRead(BaseModel):
    """Runs that differ only by seed, taken together."""

    run_ids: list[int] = Field(description="The group's runs.")
    seeds: list[int] = Field(description="Their seeds, in `run_ids` order.")
    curves: dict[str, BandRead] = Field(description="Per requested key: mean and interval.")
    summary: dict[str, IntervalRead] = Field(description="Per summary value: mean and interval.")


class CompareRead(BaseModel):
    """Several runs side by side."""

    run_ids: list[int] = Field(description="The runs compared; the first is the reference.")
    curves: list[MetricsRead] = Field(description="Each run's curves, in `run_ids` order.")
    differing_spec: dict[str, dict[int, Any]] = Field(
        description="Dotted spec paths whose values differ, with each run's value.",
        examples=[{"backend": {"1": "torch", "2": "tensorflow"}}],
    )
    max_relative_deviation: dict[str, JsonFloat] = Field(
        description="Per key: the largest |value - reference| / |reference| over the epochs all "
        "runs have; e.g. the numerical parity of runs that differ only in `backend`."
    )
    summaries: dict[int, dict[str, JsonFloat]] = Field(
        description="Each run's summary (empty until it has finished)."
    )
    groups: list[SeedGroupRead] | None = Field(
        description="With `group_seeds=true`: runs that differ only by seed, with seed mean and "
        "95% interval per epoch and per summary value; else null."
    )


class SettingRead(BaseModel):
    """One swept setting: its values, runs, and figures over its succeeded seeds."""

    values: dict[str, Any] = Field(description="The swept spec fields' values.")
    run_ids: list[int] = Field(description="Its runs (one per seed).")
    seeds: list[int] = Field(description="Their seeds.")
    statuses: dict[str, int] = Field(description="Its runs per status.")
    figures: dict[str, IntervalRead] = Field(
        description="Seed mean and 95% interval of test_acc, generalization_gap, best_epoch, "
        "epochs_to_target (first epoch with val_acc >= the target), weight_l1, weight_l2, "
        "sparsity, test_loss and the search objective, over succeeded runs."
    )


class VerdictRead(BaseModel):
    """Is the best setting better than the runner-up by more than seed noise?"""

    values: dict[str, Any] = Field(description="The best setting's swept values.")
    margin: JsonFloat = Field(description="|best mean - runner-up mean| of the ranking metric.")
    noise: JsonFloat = Field(
        description="sqrt(h1^2 + h2^2) of the two 95% half-widths; null with fewer than 2 seeds."
    )
    exceeds_noise: bool | None = Field(description="margin > noise; null when noise is.")


class ReportRead(BaseModel):
    """The regularization report of an experiment, best setting first."""

    experiment_id: int = Field(description="The experiment.")
    swept: list[str] = Field(description="The spec fields its search varies.")
    metric: str = Field(description="What settings are ranked by (the search objective).")
    mode: str = Field(description="`max` or `min`.")
    target_val_acc: float = Field(description="The target behind `epochs_to_target`.")
    settings: list[SettingRead] = Field(description="Every setting, best first.")
    best: VerdictRead | None = Field(description="The best setting against the runner-up.")
