"""SQL tables: projects, keys, experiments, runs, metrics, summaries, workers, data, artifacts."""

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from models.store.db import Base, FaithfulFloat, UtcDateTime

DEFAULT_PROJECT_ID = 1
# Ids and the other integer columns are INTEGER, 32-bit on Postgres: a larger number compared
# with one is an error there (and an overflow on SQLite past 64 bits), so inputs stop here.
MAX_INT = 2**31 - 1
MIN_INT = -(2**31)
# A NUL fits in no Postgres text or JSONB value; a lone surrogate is no Unicode text at all.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
JsonType = JSON().with_variant(JSONB(), "postgresql")


class RunStatus(StrEnum):
    """Lifecycle of a run; the last four are terminal."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PRUNED = "pruned"


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class Project(Base):
    """Owner of experiments and runs; every query is scoped by one."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    """A project's API key: looked up by its public `key_id`, the secret kept only as an HMAC."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JsonType)
    # HMAC-SHA256 of the secret under the server's secret key, hex: a leaked row opens nothing.
    secret_hmac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Written at most once a minute, so reads do not each become a write.
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The keys that made and revoked this one; None when done with the admin CLI.
    created_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))
    revoked_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))


class Experiment(Base):
    """A named base spec; it expands into one or more runs."""

    __tablename__ = "experiment"
    # uq_experiment_project_id: one experiment per (project, Idempotency-Key).
    __table_args__ = (UniqueConstraint("project_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JsonType)
    # The search that expands the spec (None: one run), how many of its configurations have
    # runs so far (claiming the next is a compare-and-set on this counter), and of how many.
    search: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    configurations_started: Mapped[int] = mapped_column(default=0)
    configurations_planned: Mapped[int] = mapped_column(default=0)
    # The search's Optuna study (its own tables, same database); None without a search.
    study_name: Mapped[str | None] = mapped_column(String(100))
    # A client's Idempotency-Key and a hash of the request it came with.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Set by a cancel: a search starts no configuration after it.
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The API keys that created and cancelled it; None before keys existed, or from the CLI.
    created_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))
    cancelled_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))

    runs: Mapped[list["Run"]] = relationship(
        back_populates="experiment", order_by="Run.id", lazy="selectin"
    )


class Run(Base):
    """One concrete spec trained once."""

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'pruned')",
            name="status",
        ),
        Index("ix_run_project_id_status", "project_id", "status"),
        Index("ix_run_status", "status"),  # every project's queued and running: /metrics
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    backend: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int]
    spec: Mapped[dict[str, Any]] = mapped_column(JsonType)
    epochs_done: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    # The checkpoint's epoch the current (or last) attempt continued after; None: from scratch.
    resumed_from_epoch: Mapped[int | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    error_type: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_epoch: Mapped[int | None]
    # In a search: which configuration (seeds of one share it), its Optuna trial, and the
    # objective's final value.
    configuration: Mapped[int | None]
    trial_id: Mapped[int | None]
    objective_value: Mapped[float | None] = mapped_column(FaithfulFloat)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # When it was last handed to the broker, and until when its worker holds it.
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # What the latest attempt trained in (framework and version, device, host, ...), written
    # as it starts; None before that.
    environment: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    # The uploaded dataset the latest attempt trained on (None for built-in data).
    dataset_version: Mapped[int | None]
    dataset_sha256: Mapped[str | None] = mapped_column(String(64))
    # The API key that cancelled it (None: not cancelled by a key).
    cancelled_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))

    experiment: Mapped[Experiment] = relationship(back_populates="runs", lazy="raise")
    summary_rows: Mapped[list["RunSummary"]] = relationship(lazy="selectin")
    # The same as one JSON object, where a query loads it (a page of runs); None elsewhere.
    summary_object: Mapped[dict[str, Any] | None] = query_expression()

    @property
    def summary(self) -> dict[str, float] | None:
        """Summary values by name, or None before the run has finished."""
        if self.summary_object is not None:
            # JSON has no NaN or infinities: Postgres and SQLite write them as strings.
            return {name: float(value) for name, value in self.summary_object.items()} or None
        return {row.name: row.value for row in self.summary_rows} or None


class Metric(Base):
    """One value per (run, name, epoch); the primary key is also the read path's index."""

    __tablename__ = "metric"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[float] = mapped_column(FaithfulFloat)


class MetricBlock(Base):
    """A series' minimum and maximum, with their epochs, over epochs `block * width + 1 ..
    (block + 1) * width`; kept with the epochs by models/store/metric_blocks.py."""

    __tablename__ = "metric_block"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    width: Mapped[int] = mapped_column(primary_key=True)
    block: Mapped[int] = mapped_column(primary_key=True)
    min_value: Mapped[float] = mapped_column(FaithfulFloat)
    min_epoch: Mapped[int]
    max_value: Mapped[float] = mapped_column(FaithfulFloat)
    max_epoch: Mapped[int]


class RunSummary(Base):
    """One final value per (run, name): test accuracy, weight norms, sparsity, ..."""

    __tablename__ = "run_summary"
    # Summary filters and sorts find their runs by value (models/store/run_query.py).
    __table_args__ = (Index("ix_run_summary_name_value", "name", "value", "run_id"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(FaithfulFloat)


class Worker(Base):
    """A worker's main process: what it serves, and until when it counts as alive."""

    __tablename__ = "worker"

    # `host:pid` of the Celery main process (its children train the runs).
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    queues: Mapped[list[str]] = mapped_column(JsonType)
    backends: Mapped[list[str]] = mapped_column(JsonType)
    cuda: Mapped[bool]
    concurrency: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # last_seen_at plus the worker's own bound (a few of its beats): each worker declares how
    # long its silence may last, so readers need no setting of their own to judge it.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Dataset(Base):
    """One version of an uploaded dataset: its blob, and what validation learned of it."""

    __tablename__ = "dataset"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "version", name="uq_dataset_version"),
        # The same bytes read the same way under one name are one version, not two.
        UniqueConstraint(
            "project_id", "name", "sha256", "format", "label", name="uq_dataset_content"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    # The label column of a CSV or Parquet file; "" for formats without one.
    label: Mapped[str] = mapped_column(String(100))
    input_shape: Mapped[list[int]] = mapped_column(JsonType)
    class_names: Mapped[list[str]] = mapped_column(JsonType)
    # Examples per class, in class_names order: in x, and in the explicit test split if any.
    class_counts: Mapped[list[int]] = mapped_column(JsonType)
    test_class_counts: Mapped[list[int] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The API key that uploaded it; None before keys existed.
    created_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))

    @property
    def n_examples(self) -> int:
        """Every example in the file: x and the explicit test split."""
        return sum(self.class_counts) + sum(self.test_class_counts or ())


class DatasetName(Base):
    """How many versions a project's dataset name has ever had: deleted numbers stay used."""

    __tablename__ = "dataset_name"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_version: Mapped[int]


class Artifact(Base):
    """A file a run left behind (weights, manifest), by name, stored as a blob."""

    __tablename__ = "artifact"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ServiceCounter(Base):
    """A deployment-wide count every process adds to (reconciler passes...), and when one did."""

    __tablename__ = "service_counter"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
