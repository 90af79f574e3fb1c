"""The `search` of an experiment: which spec fields to vary, how, and what to optimize."""

from math import prod
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from models.metric_names import EPOCH_METRICS, SUMMARY_METRICS
from models.spec.base import StrictModel

MAX_SEARCH_RUNS = 2000  # configurations x seeds; a larger search is refused, never truncated
MAX_CHOICES = 100  # values listed for one dimension


class Range(StrictModel):
    """A continuous or integer range for random and TPE search: give exactly one of the three."""

    uniform: tuple[float, float] | None = Field(
        default=None, description="Uniform over [low, high].", examples=[[0.0, 0.6]]
    )
    log_uniform: tuple[float, float] | None = Field(
        default=None,
        description="Log-uniform over [low, high], both > 0: for rates and penalties.",
        examples=[[1e-6, 1e-2]],
    )
    int_uniform: tuple[int, int] | None = Field(
        default=None, description="Integers uniform over [low, high].", examples=[[16, 256]]
    )

    @property
    def kind(self) -> str:
        """Which of the three ranges this is."""
        return next(k for k in ("uniform", "log_uniform", "int_uniform") if getattr(self, k))

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of the range."""
        low, high = getattr(self, self.kind)
        return low, high

    @model_validator(mode="after")
    def _one_range(self) -> Self:
        given = [k for k in ("uniform", "log_uniform", "int_uniform") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform, log_uniform, int_uniform")
        low, high = getattr(self, given[0])
        if not low < high:
            raise ValueError(f"{given[0]}: low {low} must be below high {high}")
        if given[0] == "log_uniform" and low <= 0:
            raise ValueError("log_uniform: low must be > 0")
        return self


Dimension = list[Any] | Range


class Objective(StrictModel):
    """What the search optimizes, and which way."""

    metric: str = Field(
        default="val_acc",
        description="A per-epoch metric (its value at the run's last epoch; needed by a pruner, "
        f"which watches it every epoch) or a summary metric: {', '.join(SUMMARY_METRICS)}.",
        examples=["val_acc"],
    )
    mode: Literal["max", "min"] = Field(default="max", description="Maximize or minimize it.")

    @model_validator(mode="after")
    def _known_metric(self) -> Self:
        if self.metric not in (*EPOCH_METRICS, *SUMMARY_METRICS):
            raise ValueError(f"objective.metric: unknown metric {self.metric!r}")
        return self


class Pruner(StrictModel):
    """Stops runs whose objective lags the others' at the same epoch (status `pruned`)."""

    kind: Literal["median", "successive_halving"] = Field(
        default="median",
        description="`median`: prune below the median of finished runs at the same epoch; "
        "`successive_halving`: keep the best 1/4 at epochs warmup_epochs x 4^k.",
    )
    warmup_epochs: int = Field(
        default=3, ge=1, le=1000, description="Epochs every run trains before it can be pruned."
    )
    startup_trials: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="`median`: runs that must finish before any is pruned.",
    )


class SearchSpec(StrictModel):
    """Expand the experiment's spec into many runs: a grid, random or TPE search."""

    model_config = StrictModel.model_config | {
        "json_schema_extra": {
            "example": {
                "method": "grid",
                "space": {"regularization.dropout": [0.0, 0.3, 0.6]},
                "seeds": [0, 1],
            }
        }
    }

    method: Literal["grid", "random", "tpe"] = Field(
        default="grid",
        description="`grid`: every combination of the listed values; `random`: independent "
        "draws; `tpe`: Optuna's TPE, each new trial proposed from the results so far.",
    )
    space: dict[str, Dimension] = Field(
        min_length=1,
        max_length=20,
        description="Dotted spec paths to vary. A list of values (any method), or a range "
        "`{uniform|log_uniform|int_uniform: [low, high]}` (random and tpe).",
        examples=[
            {"regularization.dropout": [0.0, 0.3], "optimizer.lr": {"log_uniform": [1e-4, 1e-1]}}
        ],
    )
    trials: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SEARCH_RUNS,
        description="Configurations to try (random, tpe); a grid tries each combination once.",
    )
    seeds: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(
        default_factory=list,
        max_length=20,
        description="Train every configuration once per seed (replaces `spec.seed`); empty: "
        "once, with the spec's seed.",
        examples=[[0, 1, 2]],
    )
    max_parallel: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="Configurations in flight at once; TPE learns from the finished ones, so "
        "fewer in flight means better-informed proposals.",
    )
    objective: Objective = Field(default_factory=Objective, description="What to optimize.")
    pruner: Pruner | None = Field(default=None, description="Stop unpromising runs early.")
    sampler_seed: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="Seed of the random and TPE samplers (same seed, same draws).",
    )

    def seed_list(self, spec_seed: int) -> list[int]:
        """The seeds every configuration is trained with."""
        return list(self.seeds) or [spec_seed]

    def n_configurations(self) -> int:
        """How many configurations the search tries."""
        if self.method == "grid":
            sizes: list[int] = [len(v) for v in self.space.values() if isinstance(v, list)]
            return prod(sizes)
        assert self.trials is not None
        return self.trials

    @model_validator(mode="after")
    def _check(self) -> Self:
        for path, dimension in self.space.items():
            if isinstance(dimension, list) and not 1 <= len(dimension) <= MAX_CHOICES:
                raise ValueError(f"search.space.{path}: 1 to {MAX_CHOICES} values")
            if isinstance(dimension, Range) and self.method == "grid":
                raise ValueError(f"search.space.{path}: a grid takes a list of values")
        if self.method == "grid" and self.trials is not None:
            raise ValueError("search.trials: a grid tries every combination; leave trials out")
        if self.method != "grid" and self.trials is None:
            raise ValueError(f"search.trials: required for method {self.method}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("search.seeds: repeated seed")
        runs = self.n_configurations() * max(1, len(self.seeds))
        if runs > MAX_SEARCH_RUNS:
            raise ValueError(f"search: {runs:,} runs exceed the bound of {MAX_SEARCH_RUNS:,}")
        if self.pruner and self.objective.metric not in EPOCH_METRICS:
            raise ValueError("search.pruner: objective.metric must be a per-epoch metric")
        return self
