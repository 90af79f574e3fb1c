"""Keeps a search going: Optuna proposes configurations, each becomes one run per seed.

A search starts its first configurations when it is created (`first_proposals`, asked before
the experiment is written) and the next ones after each of its runs ends (`top_up`, called
by the worker and by the reconciler). Concurrent callers are safe: each configuration is
claimed with a compare-and-set, and a proposal that loses the race is told to Optuna as failed.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.messaging.dispatcher import Dispatcher
from models.metric_names import SUMMARY_METRICS
from models.search.space import configuration_spec
from models.search.spec import SearchSpec
from models.search.study import (
    Study,
    ask_configuration,
    finish_trial,
    open_study,
    values_of,
)
from models.store.tables import Experiment, Run, RunStatus

log = logging.getLogger(__name__)
# Configurations a search starts inside its POST: each costs tens of ms of Optuna's storage,
# so a search with max_parallel 1,000 would hold its request for a minute.
FIRST_CONFIGURATIONS = 8


@dataclass(frozen=True)
class Proposal:
    """Configuration `index` of a search: one resolved spec and one Optuna trial per seed."""

    index: int
    specs: list[dict[str, Any]]
    trial_ids: list[int]


def database_url(sessions: sessionmaker[Any]) -> str:
    """The URL of the database behind `sessions`, for Optuna's storage."""
    bind = sessions.kw["bind"]  # an Engine, or a Connection in tests; both have .engine
    return str(bind.engine.url.render_as_string(hide_password=False))


def propose(study: Study, search: SearchSpec, base_spec: Mapping[str, Any], index: int) -> Proposal:
    """Ask Optuna for configuration `index` (Optuna writes its trials in its own transactions)."""
    seeds = search.seed_list(base_spec["seed"])
    params, trial_ids = ask_configuration(study, search, index, len(seeds))
    values = values_of(search, params)
    specs = [configuration_spec(base_spec, values, seed) for seed in seeds]
    return Proposal(index, specs, trial_ids)


def first_proposals(
    url: str, study_name: str, search: SearchSpec, base_spec: Mapping[str, Any]
) -> list[Proposal]:
    """The configurations a new search starts with inside its POST: a few, whatever its size
    (`send_top_up` starts the rest of `max_parallel` after the response)."""
    count = min(search.max_parallel, search.n_configurations(), FIRST_CONFIGURATIONS)
    study = open_study(url, study_name, search)
    return [propose(study, search, base_spec, index) for index in range(count)]


def starts_later(search: SearchSpec) -> bool:
    """Whether a new search has configurations to start after its POST's first few."""
    return min(search.max_parallel, search.n_configurations()) > FIRST_CONFIGURATIONS


def send_top_up(
    sessions: sessionmaker[Any], experiment_id: int, dispatcher: Dispatcher | None
) -> None:
    """Start the search's next configurations up to `max_parallel` and send their runs
    (without a dispatcher they stay queued for the reconciler). A failure is logged, not
    raised: every run end tops the search up again, and the reconciler restarts a search
    left with nothing in flight."""
    try:
        runs = top_up(sessions, experiment_id)
    except Exception:
        log.exception("could not start more configurations of experiment %s", experiment_id)
        return
    if dispatcher is None or not runs:
        return
    dispatcher.send(runs)
    with sessions() as session:
        cancelled = store.is_cancelled(session=session, experiment_id=experiment_id)
    if cancelled:  # meanwhile: its cancel may have withdrawn before these were sent
        dispatcher.withdraw({run.id for run in runs})


def add_proposal(*, session: Session, experiment: Experiment, proposal: Proposal) -> list[Run]:
    """Claim the proposal's configuration and queue its runs; [] if another caller took it."""
    if not store.claim_configuration(
        session=session, experiment_id=experiment.id, index=proposal.index
    ):
        return []
    return store.add_configuration_runs(
        session=session,
        experiment=experiment,
        index=proposal.index,
        specs=proposal.specs,
        trial_ids=proposal.trial_ids,
    )


def abandon(url: str, study_name: str, search: SearchSpec, proposal: Proposal) -> None:
    """Tell Optuna a proposal will never run (another caller started that configuration)."""
    study = open_study(url, study_name, search)
    for trial_id in proposal.trial_ids:
        finish_trial(study, trial_id, RunStatus.FAILED, None)


def _next_index(
    sessions: sessionmaker[Any], experiment_id: int
) -> tuple[Experiment, SearchSpec, int] | None:
    """The experiment, its search and the configuration to start next; None if none may."""
    with sessions() as session:
        experiment = store.load_experiment(session=session, experiment_id=experiment_id)
        if experiment is None or experiment.search is None or experiment.cancelled_at:
            return None
        search = SearchSpec.model_validate(experiment.search)
        index = experiment.configurations_started
        in_flight = store.configurations_in_flight(session=session, experiment_id=experiment_id)
        if index >= experiment.configurations_planned or in_flight >= search.max_parallel:
            return None
        session.expunge(experiment)
        return experiment, search, index


def top_up(sessions: sessionmaker[Any], experiment_id: int) -> list[Run]:
    """Start the search's next configurations (one run per seed); returns the new runs."""
    url = database_url(sessions)
    started: list[Run] = []
    study = None
    while (claim := _next_index(sessions, experiment_id)) is not None:
        experiment, search, index = claim
        assert experiment.study_name is not None
        study = study or open_study(url, experiment.study_name, search)
        proposal = propose(study, search, experiment.spec, index)
        try:
            with sessions.begin() as session:
                runs = add_proposal(session=session, experiment=experiment, proposal=proposal)
        except BaseException:
            abandon(url, experiment.study_name, search, proposal)  # no orphan trials
            raise
        if not runs:
            abandon(url, experiment.study_name, search, proposal)
        started += runs
    return started


def objective_value(
    search: SearchSpec, summary: Mapping[str, float], last_epoch: Mapping[str, float]
) -> float | None:
    """The run's objective: a summary value, or a per-epoch metric at the last epoch."""
    source = summary if search.objective.metric in SUMMARY_METRICS else last_epoch
    return source.get(search.objective.metric)


def tell_run_end(
    sessions: sessionmaker[Any],
    study_name: str,
    search: SearchSpec,
    trial_id: int,
    status: RunStatus,
    value: float | None,
) -> None:
    """Tell Optuna how a search run ended, so samplers and pruners learn from it."""
    study = open_study(database_url(sessions), study_name, search)
    finish_trial(study, trial_id, status, value)
