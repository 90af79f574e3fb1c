"""The browser view: the runs page, the filter language in a text box; a filter or order that
does not parse is shown with its message and its position marked in the text."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.deps import Cursor, ProjectDep, SessionDep
from api.routes.runs import list_runs
from api.ui import tables
from api.ui.templating import render
from models.store.run_filter import MAX_FILTER_LENGTH

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
EXAMPLE = "summary.test_acc > 0.9 and spec.regularization.dropout in (0.3, 0.6)"


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    session: SessionDep,
    project_id: ProjectDep,
    filter: tables.FilterText = "",
    order_by: tables.OrderText = "",
    cursor: Cursor = None,
) -> Response:
    """Find runs with the filter language and an order; paged, each linked to its page."""
    typed = tables.parse_typed(filter, order_by)
    if typed.error is None:
        runs = list_runs(
            session, project_id, typed.where, typed.order, None, tables.PAGE_SIZE, cursor
        )
    else:  # nothing is listed for a filter that does not parse: its error is the answer
        runs = None
    return render(
        request,
        "runs.html",
        filter=filter,
        max_filter=MAX_FILTER_LENGTH,
        example=EXAMPLE,
        runs=runs,
        show_experiment=True,
        table=tables.table_context(request, order_by, typed, runs.next_cursor if runs else None),
    )
