"""Bodies of the experiment routes."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import SPEC_EXAMPLE, JsonFloat, key_field
from models.search.spec import SearchSpec
from models.spec import ExperimentSpec
from models.store.tables import RunStatus


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
    created_by_key: str | None = key_field("submitted")
    cancelled_by_key: str | None = key_field("cancelled")
    search: dict[str, Any] | None = Field(description="The search, defaults filled; null: one run.")
    runs: list[RunStatusRead] = Field(description="Its runs, oldest first.")
    progress: dict[RunStatus, int] = Field(description="Number of runs in each status.")
    runs_planned: int = Field(description="Runs the experiment will have once fully expanded.")
    best_run: BestRunRead | None = Field(
        description="Search only: the succeeded run with the best objective so far."
    )
