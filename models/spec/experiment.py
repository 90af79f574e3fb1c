"""ExperimentSpec v1: the backend-neutral description of one network and how to train it."""

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from models.spec.base import StrictModel
from models.spec.dataset import DatasetSpec
from models.spec.sections import ModelSpec, OptimizerSpec, RegularizationSpec, TrainingSpec

Backend = Literal["torch", "tensorflow"]


class ExperimentSpec(StrictModel):
    """One network plus its regularization recipe, trained the same way on every backend.

    Validation here is per field and across fields; the bounds that depend on the dataset
    (parameter count, data size) are applied by `resolve`.
    """

    backend: Backend = Field(
        examples=["torch"],
        default="torch",
        description="Training framework: `torch` (PyTorch) or `tensorflow` (Keras 3). The spec "
        "means the same on both; see docs/semantics.md.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        examples=["auto"], default="auto", description="`auto` takes a GPU when the worker has one."
    )
    seed: int = Field(
        examples=[0],
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
        return self
