"""Optuna's pictures of a search: drawn from its finished trials, with the spec values of
listed dimensions (a study holds their indices), nothing before two trials have finished."""

from pathlib import Path
from typing import Any

from models.search.figures import search_figures
from models.search.spec import SearchSpec
from models.search.study import ask_configuration, finish_trial, open_study
from models.store.tables import RunStatus

SEARCH = SearchSpec.model_validate(
    {
        "method": "random",
        "trials": 3,
        "space": {"model.hidden": [[8], [16, 16]], "optimizer.lr": {"log_uniform": [1e-3, 1e-1]}},
    }
)


def finished_trials(url: str, objectives: list[float | None]) -> None:
    """One trial per objective: succeeded with it, or failed for None."""
    study = open_study(url, "pictures", SEARCH)
    for index, value in enumerate(objectives):
        _, [trial_id] = ask_configuration(study, SEARCH, index, 1)
        status = RunStatus.SUCCEEDED if value is not None else RunStatus.FAILED
        finish_trial(study, trial_id, status, value)


def hovered(figure: dict[str, Any]) -> set[str]:
    """The model.hidden values the parallel coordinates' lines show when hovered."""
    lines = [t for t in figure["data"] if "customdata" in t]
    return {value for t in lines for name, value in t["customdata"] if name.startswith("model")}


def test_listed_values_are_shown_as_values_and_failed_trials_are_left_out(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.sqlite'}"
    finished_trials(url, [0.8, None, 0.9])
    figures = search_figures(url, "pictures", SEARCH)
    assert set(figures) == {"parallel", "importances", "history"}
    shown = hovered(figures["parallel"])
    assert shown and shown <= {"[8]", "[16, 16]"}  # never an index
    assert sorted(figures["history"]["data"][0]["y"]) == [0.8, 0.9]
    assert set(figures["importances"]["data"][0]["y"]) == {"model.hidden", "optimizer.lr"}


def test_nothing_is_drawn_before_two_trials_finish(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.sqlite'}"
    finished_trials(url, [0.8, None])
    assert search_figures(url, "pictures", SEARCH) == {}
