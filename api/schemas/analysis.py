"""Bodies of the comparison and report routes."""

from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import JsonFloat
from api.schemas.runs import MetricsRead


class IntervalRead(BaseModel):
    """Seed mean and 95% t-interval (low = high = mean for a single seed)."""

    mean: JsonFloat = Field(description="Mean over the group's seeds.")
    low: JsonFloat = Field(description="Lower end of the 95% confidence interval.")
    high: JsonFloat = Field(description="Upper end of the 95% confidence interval.")
    n: int = Field(description="Seeds with a finite value.")


class BandRead(BaseModel):
    """One curve's seed mean and 95% interval per epoch, over the epochs all seeds have."""

    epochs: list[int] = Field(description="Epochs every run of the group has.")
    mean: list[JsonFloat] = Field(description="Mean per epoch.")
    low: list[JsonFloat] = Field(description="Lower end of the interval per epoch.")
    high: list[JsonFloat] = Field(description="Upper end of the interval per epoch.")


class SeedGroupRead(BaseModel):
    """Runs that differ only by seed, taken together."""

    run_ids: list[int] = Field(description="The group's runs.")
    seeds: list[int] = Field(description="Their seeds, in `run_ids` order.")
    curves: dict[str, BandRead] = Field(description="Per requested key: mean and interval.")
    summary: dict[str, IntervalRead] = Field(description="Per summary value: mean and interval.")


class CompareRead(BaseModel):
    """Several runs side by side."""

    run_ids: list[int] = Field(description="The runs compared; the first is the reference.")
    curves: list[MetricsRead] = Field(description="Each run's curves, in `run_ids` order.")
    differing_spec: dict[str, dict[int, Any]] = Field(
        description="Dotted spec paths whose values differ, with each run's value.",
        examples=[{"backend": {"1": "torch", "2": "tensorflow"}}],
    )
    max_relative_deviation: dict[str, JsonFloat] = Field(
        description="Per key: the largest |value - reference| / |reference| over the epochs all "
        "runs have; e.g. the numerical parity of runs that differ only in `backend`."
    )
    summaries: dict[int, dict[str, JsonFloat]] = Field(
        description="Each run's summary (empty until it has finished)."
    )
    groups: list[SeedGroupRead] | None = Field(
        description="With `group_seeds=true`: runs that differ only by seed, with seed mean and "
        "95% interval per epoch and per summary value; else null."
    )


class SettingRead(BaseModel):
    """One swept setting: its values, runs, and figures over its succeeded seeds."""

    values: dict[str, Any] = Field(description="The swept spec fields' values.")
    run_ids: list[int] = Field(description="Its runs (one per seed).")
    seeds: list[int] = Field(description="Their seeds.")
    statuses: dict[str, int] = Field(description="Its runs per status.")
    figures: dict[str, IntervalRead] = Field(
        description="Seed mean and 95% interval of test_acc, generalization_gap, best_epoch, "
        "epochs_to_target (first epoch with val_acc >= the target), weight_l1, weight_l2, "
        "sparsity, test_loss and the search objective, over succeeded runs."
    )


class VerdictRead(BaseModel):
    """Is the best setting better than the runner-up by more than seed noise?"""

    values: dict[str, Any] = Field(description="The best setting's swept values.")
    margin: JsonFloat = Field(description="|best mean - runner-up mean| of the ranking metric.")
    noise: JsonFloat = Field(
        description="sqrt(h1^2 + h2^2) of the two 95% half-widths; null with fewer than 2 seeds."
    )
    exceeds_noise: bool | None = Field(description="margin > noise; null when noise is.")


class ReportRead(BaseModel):
    """The regularization report of an experiment, best setting first."""

    experiment_id: int = Field(description="The experiment.")
    swept: list[str] = Field(description="The spec fields its search varies.")
    metric: str = Field(description="What settings are ranked by (the search objective).")
    mode: str = Field(description="`max` or `min`.")
    target_val_acc: float = Field(description="The target behind `epochs_to_target`.")
    settings: list[SettingRead] = Field(description="Every setting, best first.")
    best: VerdictRead | None = Field(description="The best setting against the runner-up.")
