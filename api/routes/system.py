"""Service routes: health."""

from fastapi import APIRouter, Response, status

from api.broker import get_broker
from api.deps import SessionDep
from api.json_body import StrictJsonRoute
from api.reconciler import RECONCILER
from api.schemas import HealthRead, ReconcilerRead
from models import store
from models.store.tables import utcnow

router = APIRouter(tags=["system"], route_class=StrictJsonRoute)


@router.get(
    "/health",
    response_model=HealthRead,
    responses={
        503: {
            "model": HealthRead,
            "description": "Store or broker unreachable, or the reconciler stale.",
        }
    },
)
def health(session: SessionDep, response: Response) -> HealthRead:
    """Store, broker and reconciler (503 if one fails), and how many workers are live."""
    database = store.ping(session=session)
    broker = get_broker().reachable()
    stale = RECONCILER.stale()
    healthy = database and broker and not stale
    # No live worker is not unhealthy: runs are accepted before workers start.
    workers = len(store.live_workers(session=session, now=utcnow())) if database else None
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthRead(
        status="ok" if healthy else "degraded",
        database=database,
        broker=broker,
        reconciler=ReconcilerRead(
            passes=RECONCILER.passes,
            runs_sent=RECONCILER.runs_sent,
            last_pass_at=RECONCILER.last_pass_at,
            stale=stale,
        ),
        workers=workers,
    )
