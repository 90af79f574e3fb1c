"""Resolve a spec against a catalog: learn its dataset's shape, apply the bounds, plan it.

The API resolves every spec (and every configuration of a search) before anything is
stored; a worker trusts the stored spec and plans it for the data it loaded.
"""

from dataclasses import dataclass
from math import prod

from models.spec.base import SpecError
from models.spec.catalog import Catalog, DatasetShape
from models.spec.experiment import ExperimentSpec
from models.spec.plan import Plan, build_plan

MAX_PARAMS = 5_000_000
MAX_DATASET_VALUES = 20_000_000


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec that fits its dataset and the service's bounds, with its plan."""

    spec: ExperimentSpec
    dataset: DatasetShape
    plan: Plan


def plan_for(spec: ExperimentSpec, shape: DatasetShape) -> Plan:
    """The plan of `spec` for data of `shape` (no bounds applied)."""
    return build_plan(
        shape,
        spec.model,
        spec.regularization,
        spec.optimizer,
        batch_size=spec.training.batch_size,
        seed=spec.seed,
    )


def resolve(spec: ExperimentSpec, catalog: Catalog) -> ResolvedSpec:
    """The spec resolved against `catalog`; SpecError naming the field and the bound if not."""
    shape = catalog.describe(spec.dataset)
    values = shape.n_samples * prod(shape.input_shape)
    if values > MAX_DATASET_VALUES:
        raise SpecError(
            ("dataset",),
            f"dataset: {values:,} input values exceed the bound of {MAX_DATASET_VALUES:,} "
            "(reduce n_samples or n_features)",
        )
    plan = plan_for(spec, shape)
    if plan.n_params > MAX_PARAMS:
        raise SpecError(
            ("model",),
            f"model: {plan.n_params:,} parameters exceed the bound of {MAX_PARAMS:,} "
            "(reduce model.hidden or model.channels)",
        )
    return ResolvedSpec(spec, shape, plan)
