"""ExperimentSpec v1: the backend-neutral description of one network and how to train it."""

from math import prod
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.datasets import CATALOG, DatasetName, DatasetParam, DatasetShape
from models.plan import build_plan

MAX_PARAMS = 5_000_000
MAX_DATASET_VALUES = 20_000_000
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]


class StrictModel(BaseModel):
    """Base for spec sections: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(StrictModel):
    """Which built-in dataset to train on, and how to split it."""

    name: DatasetName = Field(description="Built-in dataset (see `GET /datasets`).")
    seed: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="Seed for generating and splitting the data. Fixed by default so that "
        "runs differing only in `spec.seed` see the same data.",
    )
    val_fraction: float = Field(
        default=0.15, ge=0.05, le=0.5, description="Share of samples held out for validation."
    )
    test_fraction: float = Field(
        default=0.15, ge=0.05, le=0.5, description="Share of samples held out for testing."
    )
    train_limit: int | None = Field(
        default=None,
        ge=10,
        le=1_000_000,
        description="Cap on training examples (taken after the split); small caps make "
        "overfitting, and so the effect of regularization, visible. Null: no cap.",
    )
    n_samples: int | None = Field(
        default=None, ge=100, le=200_000, description="Synthetic datasets: number of samples."
    )
    noise: float | None = Field(
        default=None, ge=0.0, le=10.0, description="Synthetic datasets: noise level (see catalog)."
    )
    n_features: int | None = Field(
        default=None, ge=2, le=1024, description="`blobs`, `classification`: input features."
    )
    n_classes: int | None = Field(
        default=None, ge=2, le=50, description="`blobs`, `classification`: number of classes."
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

    def shape(self) -> DatasetShape:
        """Input shape, classes and size of the dataset this spec describes."""
        return CATALOG[self.name].shape(self.overrides())

    @model_validator(mode="after")
    def _check_params(self) -> Self:
        info = CATALOG[self.name]
        unknown = sorted(set(self.overrides()) - info.params)
        if unknown:
            raise ValueError(f"dataset.{unknown[0]} does not apply to dataset {self.name!r}")
        if self.val_fraction + self.test_fraction > 0.8:
            raise ValueError("dataset.val_fraction + dataset.test_fraction must be <= 0.8")
        shape = self.shape()
        if self.name == "classification" and (self.noise or 0.0) > 0.5:
            raise ValueError("dataset.noise: for classification it is a label-flip share, <= 0.5")
        if self.name == "classification" and 2 ** shape.input_shape[0] < 2 * shape.n_classes:
            raise ValueError("dataset.n_classes: too many classes for so few n_features")
        values = shape.n_samples * prod(shape.input_shape)
        if values > MAX_DATASET_VALUES:
            raise ValueError(
                f"dataset: {values:,} input values exceed the bound of {MAX_DATASET_VALUES:,} "
                "(reduce n_samples or n_features)"
            )
        return self


class ModelSpec(StrictModel):
    """The network: an MLP, or convolutions followed by an MLP head."""

    kind: Literal["mlp", "cnn"] = Field(
        default="mlp",
        description="`mlp`: dense layers on the flattened input. `cnn`: same-padded "
        "convolutions (1-D for vector inputs, 2-D for images), then the dense layers.",
    )
    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default=[128, 64],
        max_length=8,
        description="Widths of the hidden dense layers (after the convolutions for `cnn`).",
    )
    channels: list[Annotated[int, Field(ge=1, le=512)]] = Field(
        default=[],
        max_length=6,
        description="`cnn` only: output channels of each convolution layer.",
    )
    kernel_size: int = Field(
        default=3, ge=1, le=7, description="`cnn` only: convolution window (odd, same padding)."
    )
    activation: Literal["relu", "tanh", "sigmoid", "gelu", "elu"] = Field(
        default="relu", description="Activation after each hidden layer (GELU is the exact erf)."
    )

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        if self.kind == "cnn" and not self.channels:
            raise ValueError("model.channels: a cnn needs at least one convolution layer")
        if self.kind == "mlp" and self.channels:
            raise ValueError("model.channels: only a cnn has convolution layers")
        if self.kernel_size % 2 == 0:
            raise ValueError("model.kernel_size must be odd (same padding is symmetric)")
        return self

    @property
    def n_hidden_layers(self) -> int:
        """Layers that get an activation, batch norm and dropout: convolutions, then dense."""
        return len(self.channels) + len(self.hidden)


class RegularizationSpec(StrictModel):
    """The regularization recipe; every field means the same on every backend."""

    dropout: Probability | list[Probability] = Field(
        default=0.0,
        description="Inverted dropout after each hidden activation: units drop with "
        "probability p and kept units are scaled by 1/(1-p) in training; identity in "
        "evaluation. One p for all hidden layers, or one per hidden layer.",
    )
    batchnorm: bool = Field(
        default=False, description="Batch normalization after each hidden layer's Dense/Conv."
    )
    bn_momentum: float = Field(
        default=0.1,
        gt=0.0,
        le=1.0,
        description="Weight of the NEW batch statistic in the running averages (torch's "
        "convention; Keras receives 1 - m). 0.1 is torch's default.",
    )
    bn_eps: float = Field(
        default=1e-5,
        gt=0.0,
        le=0.1,
        description="Added to the variance in batch norm. Set explicitly on every backend "
        "because their defaults differ (torch 1e-5, Keras 1e-3).",
    )
    l1: float = Field(
        default=0.0, ge=0.0, le=1.0, description="`loss += l1 * sum(|w|)` over kernels only."
    )
    l2: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="`loss += l2 * sum(w**2)` over kernels only (no 1/2 factor; biases and "
        "batch-norm parameters are not penalized).",
    )
    weight_decay: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Decoupled decay each step, `w <- w - lr * weight_decay * w`, kernels "
        "only, for every optimizer (AdamW-style; not torch SGD's coupled weight_decay).",
    )


class OptimizerSpec(StrictModel):
    """The optimizer and its constant learning rate."""

    name: Literal["sgd", "adam"] = Field(default="adam", description="`sgd` or `adam`.")
    lr: float = Field(default=1e-3, gt=0.0, le=10.0, description="Learning rate (constant).")
    momentum: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="`sgd` only: classical momentum."
    )
    nesterov: bool = Field(default=False, description="`sgd` only: Nesterov momentum.")
    beta1: float = Field(default=0.9, ge=0.0, lt=1.0, description="`adam` only: beta1.")
    beta2: float = Field(default=0.999, ge=0.0, lt=1.0, description="`adam` only: beta2.")
    eps: float = Field(
        default=1e-8, gt=0.0, le=1.0, description="`adam` only: added to sqrt(v_hat)."
    )

    @model_validator(mode="after")
    def _check_momentum(self) -> Self:
        if self.name == "adam" and (self.momentum or self.nesterov):
            raise ValueError("optimizer.momentum/nesterov apply to sgd only (adam uses beta1)")
        if self.nesterov and self.momentum == 0:
            raise ValueError("optimizer.nesterov needs optimizer.momentum > 0")
        return self


class EarlyStoppingSpec(StrictModel):
    """Stop when the monitored validation metric stops improving."""

    metric: Literal["val_loss", "val_acc"] = Field(
        default="val_loss", description="Monitored metric; loss is minimized, accuracy maximized."
    )
    patience: int = Field(
        default=5, ge=1, le=1000, description="Epochs without improvement before stopping."
    )
    min_delta: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Smallest change that counts as improvement."
    )


class TrainingSpec(StrictModel):
    """How long and in what batches to train."""

    epochs: int = Field(default=20, ge=1, le=1000, description="Maximum number of epochs.")
    batch_size: int = Field(default=64, ge=1, le=4096, description="Examples per step.")
    early_stopping: EarlyStoppingSpec | None = Field(
        default=None, description="Early stopping rule, or null to train every epoch."
    )


class ExperimentSpec(StrictModel):
    """One network plus its regularization recipe, trained the same way on every backend."""

    backend: Literal["torch", "tensorflow"] = Field(
        default="torch",
        description="Training framework: `torch` (PyTorch) or `tensorflow` (Keras 3). The spec "
        "means the same on both; see docs/semantics.md.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="`auto` takes a GPU when the worker has one."
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="Seeds initial weights, batch order and dropout masks.",
    )
    dataset: DatasetSpec
    model: ModelSpec = Field(default_factory=ModelSpec)
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "example": {
                "backend": "torch",
                "seed": 0,
                "dataset": {"name": "digits"},
                "model": {"kind": "mlp", "hidden": [128, 64]},
                "regularization": {"dropout": 0.2, "batchnorm": True, "l2": 1e-4},
                "optimizer": {"name": "adam", "lr": 0.001},
                "training": {"epochs": 15, "batch_size": 64},
            }
        },
    )

    def dropout_rates(self) -> list[float]:
        """The dropout probability of each hidden layer."""
        p = self.regularization.dropout
        return list(p) if isinstance(p, list) else [p] * self.model.n_hidden_layers

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        p = self.regularization.dropout
        if isinstance(p, list) and len(p) != self.model.n_hidden_layers:
            raise ValueError(
                f"regularization.dropout: {len(p)} rates given for "
                f"{self.model.n_hidden_layers} hidden layers"
            )
        decay_step = self.optimizer.lr * self.regularization.weight_decay
        if decay_step >= 1.0:
            raise ValueError(
                f"optimizer.lr x regularization.weight_decay = {decay_step:g} must be < 1 "
                "(each step multiplies kernels by 1 - lr x weight_decay)"
            )
        n_params = build_plan(self).n_params
        if n_params > MAX_PARAMS:
            raise ValueError(
                f"model: {n_params:,} parameters exceed the bound of {MAX_PARAMS:,} "
                "(reduce model.hidden or model.channels)"
            )
        return self
