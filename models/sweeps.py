"""Keeps a search going: start configurations up to `max_parallel`, until all have started.

Called after an experiment with a search is committed (by the API) and after each of its
runs ends (by the worker). Concurrent callers are safe: each configuration is claimed with a
compare-and-set, and a proposal that loses the race is told to Optuna as failed.
"""

from collections.abc import Mapping
from typing import Any

from optuna.trial import TrialState
from sqlalchemy.orm import sessionmaker

from models import store
from models.metric_names import SUMMARY_METRICS
from models.search_space import resolve_spec
from models.search_spec import SearchSpec
from models.study import ask_configuration, finish_trial, open_study, params_of, values_of
from models.tables import Experiment, Run, RunStatus

TRIAL_STATES = {
    RunStatus.SUCCEEDED: TrialState.COMPLETE,
    RunStatus.PRUNED: TrialState.PRUNED,
    RunStatus.FAILED: TrialState.FAIL,
    RunStatus.CANCELLED: TrialState.FAIL,
}


def _next_index(
    sessions: sessionmaker[Any], experiment_id: int
) -> tuple[Experiment, SearchSpec, int] | None:
    """The experiment, its search and the configuration to start next; None if none may."""
    with sessions() as session:
        experiment = session.get(Experiment, experiment_id)
        if experiment is None or experiment.search is None or experiment.cancelled_at:
            return None
        search = SearchSpec.model_validate(experiment.search)
        index = experiment.configurations_started
        in_flight = store.configurations_in_flight(session=session, experiment_id=experiment_id)
        if index >= experiment.configurations_planned or in_flight >= search.max_parallel:
            return None
        session.expunge(experiment)
        return experiment, search, index


def database_url(sessions: sessionmaker[Any]) -> str:
    """The URL of the database behind `sessions`, for Optuna's storage."""
    bind = sessions.kw["bind"]  # an Engine, or a Connection in tests; both have .engine
    return str(bind.engine.url.render_as_string(hide_password=False))


def top_up(sessions: sessionmaker[Any], experiment_id: int) -> list[Run]:
    """Start the search's next configurations (one run per seed); returns the new runs."""
    url = database_url(sessions)
    started: list[Run] = []
    while (claim := _next_index(sessions, experiment_id)) is not None:
        experiment, search, index = claim
        seeds = search.seed_list(experiment.spec["seed"])
        study = open_study(url, experiment_id, search, index)
        trial_ids = ask_configuration(study, search, len(seeds))
        values = values_of(search, params_of(study, trial_ids[0]))
        specs = [resolve_spec(experiment.spec, values, seed) for seed in seeds]
        with sessions.begin() as session:
            if store.claim_configuration(session=session, experiment_id=experiment_id, index=index):
                started += store.add_configuration_runs(
                    session=session,
                    experiment=experiment,
                    index=index,
                    specs=specs,
                    trial_ids=trial_ids,
                )
                continue
        for trial_id in trial_ids:  # another caller took this configuration first
            finish_trial(study, trial_id, TrialState.FAIL, None)
    return started


def objective_value(
    search: SearchSpec, summary: Mapping[str, float], last_epoch: Mapping[str, float]
) -> float | None:
    """The run's objective: a summary value, or a per-epoch metric at the last epoch."""
    source = summary if search.objective.metric in SUMMARY_METRICS else last_epoch
    return source.get(search.objective.metric)


def tell_run_end(
    sessions: sessionmaker[Any],
    experiment_id: int,
    search: SearchSpec,
    trial_id: int,
    status: RunStatus,
    value: float | None,
) -> None:
    """Tell Optuna how a search run ended, so samplers and pruners learn from it."""
    study = open_study(database_url(sessions), experiment_id, search)
    finish_trial(study, trial_id, TRIAL_STATES[status], value)
