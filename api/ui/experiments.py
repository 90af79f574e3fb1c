"""The browser view: the experiments list and an experiment's page."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.deps import Cursor, ProjectDep, SessionDep
from api.routes.experiments import list_experiments
from api.ui.templating import render

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
PAGE_SIZE = 50


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(
    request: Request, session: SessionDep, project_id: ProjectDep, cursor: Cursor = None
) -> Response:
    """The project's experiments, newest first: status counts, best run, created; paged."""
    page = list_experiments(session, project_id, limit=PAGE_SIZE, cursor=cursor)
    return render(request, "experiments.html", page=page)
