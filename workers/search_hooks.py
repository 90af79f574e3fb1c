"""What a search adds to a run's life: pruning checks per epoch, and the next runs at its end."""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import sessionmaker

from models.messaging.dispatcher import Dispatcher
from models.search.spec import SearchSpec
from models.search.study import open_study, report_epoch
from models.services.searches import database_url, send_top_up, tell_run_end
from models.store.tables import RunStatus

log = logging.getLogger(__name__)
PruningWatch = Callable[[int, Mapping[str, float]], bool]


def pruning_watch(
    sessions: sessionmaker[Any],
    study_name: str | None,
    search: SearchSpec | None,
    trial_id: int | None,
) -> PruningWatch | None:
    """A per-epoch check that reports the objective to Optuna and says whether to prune."""
    if search is None or search.pruner is None or trial_id is None or study_name is None:
        return None
    study = open_study(database_url(sessions), study_name, search)
    metric = search.objective.metric

    def watch(epoch: int, values: Mapping[str, float]) -> bool:
        return report_epoch(study, trial_id, epoch, values[metric])

    return watch


def continue_search(
    sessions: sessionmaker[Any],
    experiment_id: int,
    study_name: str,
    search: SearchSpec,
    trial_id: int,
    status: RunStatus,
    objective: float | None,
    dispatcher: Dispatcher | None,
) -> None:
    """Tell Optuna how the run ended, then start and send the search's next runs."""
    try:
        tell_run_end(sessions, study_name, search, trial_id, status, objective)
    except Exception:
        # The run's own end is committed; the reconciler restarts a search left stalled.
        log.exception("could not tell Optuna how a run of experiment %s ended", experiment_id)
        return
    send_top_up(sessions, experiment_id, dispatcher)
