"""The spec a user submits, the catalog it is resolved against, and the plan it compiles to.

`ExperimentSpec` validates field by field; `resolve(spec, catalog)` learns the dataset's
shape, applies the bounds that depend on it and builds the `Plan` every backend trains.
"""

from models.spec.base import SpecError, StrictModel
from models.spec.dataset import DatasetSpec
from models.spec.experiment import ExperimentSpec
from models.spec.sections import (
    EarlyStoppingSpec,
    ModelSpec,
    OptimizerSpec,
    RegularizationSpec,
    TrainingSpec,
)

__all__ = [
    "DatasetSpec",
    "EarlyStoppingSpec",
    "ExperimentSpec",
    "ModelSpec",
    "OptimizerSpec",
    "RegularizationSpec",
    "SpecError",
    "StrictModel",
    "TrainingSpec",
]
