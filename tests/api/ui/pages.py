"""What the page tests share: finished runs without a worker, and a page's embedded data."""

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import sessionmaker

from models import store
from models.search.spec import SearchSpec
from models.services.searches import tell_run_end
from models.store.tables import Experiment, Run, RunStatus


def finish(
    sessions: sessionmaker[Any],
    run_id: int,
    summary: Mapping[str, float],
    objective: float | None = None,
) -> None:
    """End a queued run as a worker would (claim, then succeed with this summary); a search's
    run is told to its Optuna study too."""
    with sessions.begin() as session:
        assert store.claim_run(session=session, run_id=run_id, worker="test", lease_seconds=60)
        assert store.finish_run(
            session=session,
            run_id=run_id,
            worker="test",
            status=RunStatus.SUCCEEDED,
            summary=summary,
            objective_value=objective,
        )
        run = session.get_one(Run, run_id)
        experiment = session.get_one(Experiment, run.experiment_id)
        study, search, trial = experiment.study_name, experiment.search, run.trial_id
    if study is not None and search is not None and trial is not None:
        spec = SearchSpec.model_validate(search)
        tell_run_end(sessions, study, spec, trial, RunStatus.SUCCEEDED, objective)


def embedded_figure(html: str, figure_id: str) -> dict[str, Any]:
    """The plotly figure a page embeds for the element `figure_id`."""
    pattern = rf'<script type="application/json" data-figure="{figure_id}">(.*?)</script>'
    found = re.search(pattern, html, re.S)
    assert found is not None, f"no figure {figure_id}"
    figure: dict[str, Any] = json.loads(found.group(1))
    return figure
