"""Optuna's own pictures of a search (parallel coordinates, parameter importances,
optimization history) as plotly figure JSON, for the browser view to draw.

A listed dimension is stored in the study as an index into its values (Optuna's choices
cannot be lists); the pictures are drawn from an in-memory copy of the finished trials with
the values themselves, so an axis reads `0.3`, not `1`.
"""

import json
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.importance import MeanDecreaseImpurityImportanceEvaluator
from optuna.trial import TrialState

from models.search.spec import SearchSpec
from models.search.study import storage, values_of

# Optuna's importances need at least two finished trials; fewer draws nothing useful.
MIN_TRIALS = 2
# Importances by a seeded random forest's impurity decrease: Optuna's default (fANOVA) took
# 13 s for 1,000 trials here, this 0.3 s.
SCALAR = (bool, int, float, str, type(None))


def _shown(value: Any) -> Any:
    """A value Optuna can hold as a choice: scalars as they are, lists as their JSON text."""
    return value if isinstance(value, SCALAR) else json.dumps(value)


def _shown_space(
    search: SearchSpec, trial: optuna.trial.FrozenTrial
) -> dict[str, BaseDistribution]:
    """The trial's space with each listed dimension over its (shown) values."""
    return {
        path: CategoricalDistribution([_shown(v) for v in dimension])
        if isinstance(dimension, list)
        else trial.distributions[path]
        for path, dimension in search.space.items()
    }


def _view(study: optuna.study.Study, search: SearchSpec) -> optuna.study.Study:
    """An in-memory copy of the study's finished trials, with spec values for params."""
    view = optuna.create_study(direction=study.direction)
    view.add_trials(
        optuna.trial.create_trial(
            params={p: _shown(v) for p, v in values_of(search, trial.params).items()},
            distributions=_shown_space(search, trial),
            value=trial.value,
            state=TrialState.COMPLETE,
        )
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    )
    return view


def search_figures(url: str, study_name: str, search: SearchSpec) -> dict[str, Any]:
    """Plotly figures (as plain JSON data) by name (parallel, importances, history) for the search's
    finished trials; empty until MIN_TRIALS have finished."""
    study = optuna.load_study(study_name=study_name, storage=storage(url))
    view = _view(study, search)
    if len(view.trials) < MIN_TRIALS:
        return {}
    name = search.objective.metric
    figures = {
        "parallel": optuna.visualization.plot_parallel_coordinate(view, target_name=name),
        "history": optuna.visualization.plot_optimization_history(view, target_name=name),
        "importances": optuna.visualization.plot_param_importances(
            view, evaluator=MeanDecreaseImpurityImportanceEvaluator(seed=0), target_name=name
        ),
    }
    return {key: json.loads(figure.to_json()) for key, figure in figures.items()}
