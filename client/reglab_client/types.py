"""The API's response bodies as TypedDicts: the JSON as it comes, typed for editors and mypy.

Each is named after the API's schema without `Read` (`RunRead` -> `Run`); times are the API's
ISO 8601 strings (UTC). tests/client/test_types.py holds them to the OpenAPI document. (The
admin routes' bodies are in reglab_client.admin.)
"""

from typing import Any, Generic, Literal, TypedDict, TypeVar

T = TypeVar("T")
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "pruned"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "pruned"})


class Page(TypedDict, Generic[T]):
    """One page of a list; `total` counts every match."""

    items: list[T]
    total: int
    next_cursor: str | None


class RunError(TypedDict):
    """Why a run failed: `type` (`diverged`, `timeout`, `worker_lost`, ...), message, epoch."""

    type: str
    message: str
    epoch: int | None


class Run(TypedDict):
    """One run: its resolved spec, progress, summary and error."""

    id: int
    experiment_id: int
    status: RunStatus
    backend: str
    seed: int
    spec: dict[str, Any]
    epochs_done: int
    attempts: int
    resumed_from_epoch: int | None
    worker: str | None
    summary: dict[str, float | None] | None
    error: RunError | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    cancelled_by_key: str | None
    environment: dict[str, str | int | None] | None
    dataset_version: int | None
    dataset_sha256: str | None
    waiting_for: str | None


class RunStatusItem(TypedDict):
    """A run as its experiment lists it."""

    id: int
    status: RunStatus
    epochs_done: int
    seed: int
    configuration: int | None
    objective_value: float | None


class BestRun(TypedDict):
    """A search's best succeeded run so far."""

    run_id: int
    objective: float | None
    values: dict[str, Any]


class Experiment(TypedDict):
    """An experiment, its base spec and its runs."""

    id: int
    name: str
    spec: dict[str, Any]
    created_at: str
    cancelled_at: str | None
    created_by_key: str | None
    cancelled_by_key: str | None
    search: dict[str, Any] | None
    runs: list[RunStatusItem]
    progress: dict[RunStatus, int]
    runs_planned: int
    best_run: BestRun | None


class Metrics(TypedDict):
    """A run's curves: `series[name][i]` is the value at `epochs[i]` (None: missing or NaN)."""

    run_id: int
    epochs: list[int]
    series: dict[str, list[float | None]]


class Interval(TypedDict):
    """Seed mean and 95% interval."""

    mean: float | None
    low: float | None
    high: float | None
    n: int


class Band(TypedDict):
    """A curve's seed mean and 95% interval per epoch."""

    epochs: list[int]
    mean: list[float | None]
    low: list[float | None]
    high: list[float | None]


class SeedGroup(TypedDict):
    """Runs that differ only by seed, taken together."""

    run_ids: list[int]
    seeds: list[int]
    curves: dict[str, Band]
    summary: dict[str, Interval]


class Comparison(TypedDict):
    """Several runs side by side (keys of `summaries` and `differing_spec` values: run ids)."""

    run_ids: list[int]
    curves: list[Metrics]
    differing_spec: dict[str, dict[str, Any]]
    max_relative_deviation: dict[str, float | None]
    summaries: dict[str, dict[str, float | None]]
    groups: list[SeedGroup] | None


class Setting(TypedDict):
    """One swept setting of a report."""

    values: dict[str, Any]
    run_ids: list[int]
    seeds: list[int]
    statuses: dict[str, int]
    figures: dict[str, Interval]


class Verdict(TypedDict):
    """The best setting against the runner-up."""

    values: dict[str, Any]
    margin: float | None
    noise: float | None
    exceeds_noise: bool | None


class Report(TypedDict):
    """An experiment's regularization report, best setting first."""

    experiment_id: int
    swept: list[str]
    metric: str
    mode: str
    target_val_acc: float
    settings: list[Setting]
    best: Verdict | None


class BuiltinDataset(TypedDict):
    """A built-in dataset, its parameters and shape."""

    name: str
    description: str
    input_shape: list[int]
    n_classes: int
    n_samples: int
    params: dict[str, float]


class UploadedDataset(TypedDict):
    """An uploaded dataset version as lists show it."""

    id: int
    name: str
    version: int
    sha256: str
    bytes: int
    format: str
    label: str | None
    input_shape: list[int]
    n_classes: int
    n_examples: int
    created_at: str
    created_by_key: str | None


class Split(TypedDict):
    """Examples and class counts of one part of an upload."""

    examples: int
    class_counts: list[int]


class Splits(TypedDict):
    """An upload's training part and its explicit test split, if any."""

    train: Split
    test: Split | None


class DatasetVersion(TypedDict):
    """One version of a dataset's name."""

    id: int
    version: int
    sha256: str
    created_at: str


class Dataset(UploadedDataset):
    """An uploaded dataset version in full."""

    class_names: list[str]
    splits: Splits
    versions: list[DatasetVersion]


class DatasetList(TypedDict):
    """The built-in datasets and a page of uploaded versions."""

    builtin: list[BuiltinDataset]
    items: list[UploadedDataset]
    total: int
    next_cursor: str | None


class Artifact(TypedDict):
    """A file a run left in the blob store."""

    name: str
    bytes: int
    sha256: str
    media_type: str
    created_at: str
    url: str


class Worker(TypedDict):
    """A live worker."""

    host: str
    pid: int
    backends: list[str]
    cuda: bool
    concurrency: int
    queues: list[str]
    started_at: str
    last_seen_at: str


class Reconciler(TypedDict):
    """An API process's reconciler."""

    passes: int
    runs_sent: int
    last_pass_at: str | None
    stale: bool


class Health(TypedDict):
    """Store, broker and reconciler, and how many workers are live."""

    status: str
    database: bool
    broker: bool
    reconciler: Reconciler
    workers: int | None
