"""Bounds on an uploaded dataset, read from the environment (`REGLAB_INGEST_*`)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.ingest.base import IngestError, body_error
from models.spec.resolve import MAX_DATASET_VALUES

MIB = 1024 * 1024
ENV_PREFIX = "REGLAB_INGEST_"


class IngestLimits(BaseSettings):
    """What an upload may hold; each exceeded bound is an error naming its variable."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    max_bytes: int = Field(
        default=512 * MIB,
        ge=1,
        description="Largest uploaded file, in bytes (a larger one is a 413).",
    )
    max_uncompressed_bytes: int = Field(
        default=1024 * MIB,
        ge=1,
        description="Largest sum of an archive's (NPZ, image_zip) declared member sizes, and of a "
        "Parquet file's uncompressed row groups.",
    )
    max_compression_ratio: float = Field(
        default=200.0,
        ge=1.0,
        description="Largest uncompressed/compressed size of an archive member over 1 MiB: "
        "real data rarely passes 20, a zip bomb passes 1,000.",
    )
    max_members: int = Field(
        default=50_000, ge=1, description="Most members (images, arrays, folders) in an archive."
    )
    max_values: int = Field(
        default=MAX_DATASET_VALUES,
        ge=1,
        le=MAX_DATASET_VALUES,
        description="Most input values (examples x values per example, test split included): "
        "no more than a spec may train on.",
    )
    max_features: int = Field(
        default=250_000,
        ge=1,
        description="Most values in one example (CSV/Parquet columns, image pixels x channels).",
    )
    max_examples: int = Field(
        default=5_000_000, ge=2, description="Most examples (rows, images), test split included."
    )
    max_classes: int = Field(default=1_000, ge=2, description="Most distinct labels.")

    def check(self, bound: str, value: float, what: str) -> None:
        """Raise an IngestError naming `bound` when `value` (described by `what`) exceeds it."""
        limit = getattr(self, bound)
        if value > limit:
            raise self.exceeded(bound, value, what)

    def exceeded(self, bound: str, value: float, what: str) -> IngestError:
        """The error for `value` past `bound`: what, how much, the bound and its variable."""
        limit = getattr(self, bound)
        error = body_error(
            f"{what}: {value:,} exceeds the bound of {limit:,} ({ENV_PREFIX}{bound.upper()})"
        )
        if bound == "max_bytes":
            error.kind = "too_large"
        return error


@lru_cache
def get_ingest_limits() -> IngestLimits:
    """The process-wide upload bounds, read once from the environment."""
    return IngestLimits()
