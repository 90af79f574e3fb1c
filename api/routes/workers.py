"""Workers: the live Celery workers and the runs they can train."""

from fastapi import APIRouter

from api.deps import SessionDep
from api.json_body import StrictJsonRoute
from api.schemas import WorkerRead
from models import store
from models.store.tables import utcnow

router = APIRouter(prefix="/workers", tags=["workers"], route_class=StrictJsonRoute)


@router.get("", response_model=list[WorkerRead])
def list_workers(session: SessionDep) -> list[WorkerRead]:
    """Live workers by host and pid: backends, CUDA, concurrency, queues and last beat."""
    workers = store.live_workers(session=session, now=utcnow())
    return [WorkerRead.model_validate(worker) for worker in workers]
