"""`GET /metrics`: the deployment in the Prometheus text format, for a monitoring host."""

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from api.auth import METRICS_PATH
from api.deps import CallerDep, SessionDep
from api.errors import error_item, error_list_response
from api.metrics import scrape
from models.store.tables import DEFAULT_PROJECT_ID

router = APIRouter(tags=["system"])
EXAMPLE = """\
# HELP reglab_runs Runs by status, every project.
# TYPE reglab_runs gauge
reglab_runs{status="queued"} 3.0
reglab_runs{status="running"} 2.0
# HELP http_requests_total Total number of requests by method, status and handler.
# TYPE http_requests_total counter
http_requests_total{handler="/runs/{run_id}",method="GET",status="2xx"} 42.0
"""


@router.get(
    METRICS_PATH,
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text format, version 0.0.4 (any Prometheus reads it).",
            "content": {
                CONTENT_TYPE_PLAIN_0_0_4: {"schema": {"type": "string"}, "example": EXAMPLE}
            },
        },
        403: error_list_response(
            'The key lacks the `metrics` scope or is not of project "default".'
        ),
    },
)
def metrics(request: Request, session: SessionDep, caller: CallerDep) -> Response:
    """HTTP requests by route template and status class, with their latency; runs by status,
    queued runs per queue, live workers by backend and device, epochs per second and the
    reconciler's passes, read from the store now (the same in every API process).
    Deployment-wide: a key of project "default" (`metrics` or `admin` scope) unless
    REGLAB_METRICS_PUBLIC is set."""
    if caller is not None and caller.project_id != DEFAULT_PROJECT_ID:
        message = "the deployment's metrics are for keys of project \"default\" (the operators')"
        raise HTTPException(403, [error_item(("header", "Authorization"), message, "operator")])
    body = scrape(request.app.state.http_metrics, session)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
