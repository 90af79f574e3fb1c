"""Builders for specs and rows used across tests."""

from typing import Any

from sqlalchemy.orm import Session

from models import store
from models.spec import ExperimentSpec
from models.tables import DEFAULT_PROJECT_ID, Run


def spec_dict(**sections: Any) -> dict[str, Any]:
    """A small valid spec (moons MLP, 2 epochs) with top-level sections replaced or merged."""
    spec: dict[str, Any] = {
        "seed": 0,
        "dataset": {"name": "moons", "n_samples": 300},
        "model": {"kind": "mlp", "hidden": [16]},
        "training": {"epochs": 2, "batch_size": 32},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def make_spec(**sections: Any) -> ExperimentSpec:
    """A validated spec from `spec_dict`."""
    return ExperimentSpec.model_validate(spec_dict(**sections))


def create_run(session: Session, spec: ExperimentSpec | None = None, name: str = "test") -> Run:
    """An experiment with one queued run, flushed (not committed)."""
    spec = spec or make_spec()
    experiment = store.create_experiment(
        session=session, project_id=DEFAULT_PROJECT_ID, name=name, spec=spec.model_dump()
    )
    return experiment.runs[0]
