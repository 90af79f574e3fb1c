"""The dataset section of a spec: which dataset, its generator parameters and its split."""

from typing import Literal, Self

from pydantic import Field, model_validator

from models.spec.base import StrictModel

DatasetParam = Literal["n_samples", "noise", "n_features", "n_classes"]


class DatasetSpec(StrictModel):
    """Which dataset to train on, and how to split it."""

    name: str = Field(
        examples=["digits"],
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="A built-in dataset or one uploaded to this project (see `GET /datasets`).",
    )
    version: int | None = Field(
        examples=[None],
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Uploaded datasets: which version. Null means the newest when the "
        "experiment is submitted; the stored spec then names that version, so every run of "
        "the experiment trains on the same data.",
    )
    seed: int = Field(
        examples=[0],
        default=0,
        ge=0,
        le=2**31 - 1,
        description="Seed for generating and splitting the data. Fixed by default so that "
        "runs differing only in `spec.seed` see the same data.",
    )
    val_fraction: float = Field(
        examples=[0.15],
        default=0.15,
        ge=0.05,
        le=0.5,
        description="Share of samples held out for validation.",
    )
    test_fraction: float = Field(
        examples=[0.15],
        default=0.15,
        ge=0.05,
        le=0.5,
        description="Share of samples held out for testing.",
    )
    train_limit: int | None = Field(
        examples=[200],
        default=None,
        ge=10,
        le=1_000_000,
        description="Cap on training examples (taken after the split); small caps make "
        "overfitting, and so the effect of regularization, visible. Null: no cap.",
    )
    n_samples: int | None = Field(
        examples=[1000],
        default=None,
        ge=100,
        le=200_000,
        description="Synthetic datasets: number of samples.",
    )
    noise: float | None = Field(
        examples=[0.2],
        default=None,
        ge=0.0,
        le=10.0,
        description="Synthetic datasets: noise level (see catalog).",
    )
    n_features: int | None = Field(
        examples=[20],
        default=None,
        ge=2,
        le=1024,
        description="`blobs`, `classification`: input features.",
    )
    n_classes: int | None = Field(
        examples=[3],
        default=None,
        ge=2,
        le=50,
        description="`blobs`, `classification`: number of classes.",
    )

    def overrides(self) -> dict[DatasetParam, float]:
        """The generator parameters this spec sets explicitly."""
        values: dict[DatasetParam, float | None] = {
            "n_samples": self.n_samples,
            "noise": self.noise,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
        }
        return {k: v for k, v in values.items() if v is not None}

    @model_validator(mode="after")
    def _check_split(self) -> Self:
        if self.val_fraction + self.test_fraction > 0.8:
            raise ValueError("dataset.val_fraction + dataset.test_fraction must be <= 0.8")
        return self
