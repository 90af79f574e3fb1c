"""Optuna behind a search: one study per experiment, one trial per run, in our own database.

Optuna's samplers propose configurations and its pruners judge running runs; its RDB
storage keeps the trials in the same database as the runs (its own tables, its own alembic
version table). The run rows stay the source of truth: a trial is only ever the optimizer's
view of a run.
"""

import functools
import itertools
import logging
import math
import uuid
import warnings
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from models.search.spec import Range, SearchSpec
from models.store.tables import RunStatus

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)
SEED_STRIDE = 1_000_003  # sampler seed per configuration: sampler_seed x stride + index
SEED_SPACE = 2**32  # numpy's seeds, which Optuna's samplers are built on
TRIAL_STATES = {
    RunStatus.SUCCEEDED: TrialState.COMPLETE,
    RunStatus.PRUNED: TrialState.PRUNED,
    RunStatus.FAILED: TrialState.FAIL,
    RunStatus.CANCELLED: TrialState.FAIL,
}


@functools.cache
def storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage in the database at `url`, created on first use (one per process)."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}  # writers from API and workers take turns
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def _distribution(dimension: list[Any] | Range) -> BaseDistribution:
    """Listed values become an index over them (Optuna's choices cannot be lists)."""
    if isinstance(dimension, list):
        return CategoricalDistribution(list(range(len(dimension))))
    low, high = dimension.bounds
    if dimension.kind == "int_uniform":
        return IntDistribution(int(low), int(high))
    return FloatDistribution(low, high, log=dimension.kind == "log_uniform")


def _fixed(params: dict[str, Any], seed: int | None = None) -> optuna.samplers.BaseSampler:
    """A sampler that returns exactly `params` (a grid point, or a repeat for another seed)."""
    with warnings.catch_warnings():
        # Marked experimental since Optuna 2.4, unchanged since; pinned below 6.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.PartialFixedSampler(params, optuna.samplers.RandomSampler(seed))


def _sampler(search: SearchSpec, index: int) -> optuna.samplers.BaseSampler:
    """The sampler proposing configuration `index`: fixed for a grid, seeded per index."""
    seed = (search.sampler_seed * SEED_STRIDE + index) % SEED_SPACE
    if search.method == "grid":
        sizes = [range(len(values)) for values in search.space.values()]  # type: ignore[arg-type]
        point = next(itertools.islice(itertools.product(*sizes), index, None))
        fixed = dict(zip(search.space, point, strict=True))
        return _fixed(fixed, seed)
    if search.method == "random":
        return optuna.samplers.RandomSampler(seed)
    startup = max(2, min(10, (search.trials or 0) // 4))
    return optuna.samplers.TPESampler(n_startup_trials=startup, seed=seed)


def _pruner(search: SearchSpec) -> optuna.pruners.BasePruner:
    rule = search.pruner
    if rule is None:
        return optuna.pruners.NopPruner()
    if rule.kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=rule.startup_trials, n_warmup_steps=rule.warmup_epochs
        )
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=rule.warmup_epochs)


def new_study_name() -> str:
    """A fresh, unique study name: chosen before its experiment exists."""
    return f"reglab-{uuid.uuid4().hex}"


def open_study(url: str, name: str, search: SearchSpec, index: int = 0) -> optuna.study.Study:
    """The study `name` (created on first use) with the sampler for configuration `index`."""
    return optuna.create_study(
        storage=storage(url),
        study_name=name,
        direction="maximize" if search.objective.mode == "max" else "minimize",
        sampler=_sampler(search, index),
        pruner=_pruner(search),
        load_if_exists=True,
    )


def delete_study(url: str, name: str) -> None:
    """Remove a study whose experiment was never written (best effort: it is only garbage)."""
    try:
        optuna.delete_study(study_name=name, storage=storage(url))
    except KeyError:
        return  # never created: the failure came before Optuna's first write
    except Exception:
        log.warning("could not delete the orphan study %s", name, exc_info=True)


def values_of(search: SearchSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Spec values for a trial's params (list dimensions are stored as indices)."""
    values = {}
    for path, dimension in search.space.items():
        param = params[path]
        values[path] = dimension[param] if isinstance(dimension, list) else param
    return values


def ask_configuration(study: optuna.study.Study, search: SearchSpec, n_seeds: int) -> list[int]:
    """Ask one trial per seed for the study's next configuration; returns their trial ids.

    The first trial is the sampler's proposal; the others repeat its params exactly.
    """
    space = {path: _distribution(dim) for path, dim in search.space.items()}
    first = study.ask(space)
    trials = [first]
    if n_seeds > 1:
        study.sampler = _fixed(first.params)
        trials += [study.ask(space) for _ in range(n_seeds - 1)]
    return [trial._trial_id for trial in trials]


def params_of(study: optuna.study.Study, trial_id: int) -> dict[str, Any]:
    """The params Optuna chose for a trial."""
    return dict(study._storage.get_trial_params(trial_id))


def report_epoch(study: optuna.study.Study, trial_id: int, epoch: int, value: float) -> bool:
    """Record the objective at `epoch`; True when the pruner says to stop the run."""
    trial = optuna.trial.Trial(study, trial_id)
    if math.isfinite(value):
        trial.report(value, epoch)
    return trial.should_prune()


def finish_trial(
    study: optuna.study.Study, trial_id: int, status: RunStatus, value: float | None
) -> None:
    """Tell Optuna how a run ended; a second telling (duplicate delivery) is ignored."""
    trial = optuna.trial.Trial(study, trial_id)
    state = TRIAL_STATES[status]
    if state == TrialState.COMPLETE and (value is None or not math.isfinite(value)):
        state = TrialState.FAIL
    values = value if state == TrialState.COMPLETE else None
    study.tell(trial, values, state=state, skip_if_finished=True)
