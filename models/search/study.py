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
Study = optuna.study.Study
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


def _seed(search: SearchSpec, index: int) -> int:
    """The sampler seed of configuration `index`."""
    return (search.sampler_seed * SEED_STRIDE + index) % SEED_SPACE


def _space(search: SearchSpec) -> dict[str, BaseDistribution]:
    """The search space as Optuna's distributions, in the sorted order of its paths: the
    stored search comes back from Postgres (JSONB) with its keys in another order."""
    return {path: _distribution(search.space[path]) for path in sorted(search.space)}


def _drawn_params(search: SearchSpec, index: int) -> dict[str, Any] | None:
    """Configuration `index`'s params where they follow from the index alone (grid, random);
    None for TPE, whose sampler reads the study's history.

    Drawn here rather than by `study.ask`, whose every call reads all of the study's running
    trials: asking for 1,000 configurations took minutes (quadratic) instead of seconds.
    """
    if search.method == "grid":
        paths = sorted(search.space)
        sizes = [range(len(search.space[path])) for path in paths]  # type: ignore[arg-type]
        point = next(itertools.islice(itertools.product(*sizes), index, None))
        return dict(zip(paths, point, strict=True))
    if search.method == "random":
        # Optuna's own draw, in the order `ask` made it: a random sampler reads no history.
        sampler = optuna.samplers.RandomSampler(_seed(search, index))
        return {
            path: sampler.sample_independent(None, None, path, distribution)  # type: ignore[arg-type]
            for path, distribution in _space(search).items()
        }
    return None


def _sampler(search: SearchSpec, index: int) -> optuna.samplers.BaseSampler:
    """The sampler behind `study.ask`; grid and random params are drawn by `_drawn_params`."""
    if search.method != "tpe":
        return optuna.samplers.RandomSampler(_seed(search, index))  # kept for Optuna, not asked
    startup = max(2, min(10, (search.trials or 0) // 4))
    return optuna.samplers.TPESampler(n_startup_trials=startup, seed=_seed(search, index))


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


def open_study(url: str, name: str, search: SearchSpec) -> optuna.study.Study:
    """The study `name`, created on first use (`ask_configuration` sets its sampler)."""
    return optuna.create_study(
        storage=storage(url),
        study_name=name,
        direction="maximize" if search.objective.mode == "max" else "minimize",
        sampler=_sampler(search, 0),
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


def ask_configuration(
    study: optuna.study.Study, search: SearchSpec, index: int, n_seeds: int
) -> tuple[dict[str, Any], list[int]]:
    """Create one running trial per seed for configuration `index`: its params and trial ids.

    TPE's first trial is its sampler's proposal; every other trial is written whole with
    the configuration's params, in one storage call each.
    """
    space = _space(search)
    params, trial_ids = _drawn_params(search, index), []
    if params is None:
        study.sampler = _sampler(search, index)
        first = study.ask(space)
        params, trial_ids = first.params, [first._trial_id]
    template = optuna.trial.create_trial(
        state=TrialState.RUNNING, params=params, distributions=space
    )
    storage, study_id = study._storage, study._study_id
    trial_ids += [
        storage.create_new_trial(study_id, template_trial=template)
        for _ in range(n_seeds - len(trial_ids))
    ]
    return params, trial_ids


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
