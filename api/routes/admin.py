"""Admin routes: projects and API keys (the `admin` scope; the same as `python -m api admin`)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from api.auth import secret_key
from api.deps import CallerDep, SessionDep, SessionmakerDep
from api.errors import conflict_response, error_item, not_found, not_found_response
from api.json_body import StrictJsonRoute
from api.schemas.admin import KeyCreate, KeyCreated, KeyRead, ProjectCreate, ProjectRead
from models import store
from models.services import keys
from models.services.errors import ConflictError, NotFoundError
from models.store.tables import MAX_INT

router = APIRouter(prefix="/admin", tags=["admin"], route_class=StrictJsonRoute)
KeyId = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{12}$",
        description="The key's public id: the 12 hex digits after `rl_`.",
        examples=["3f9a0c12b7de"],
    ),
]


def _acting(caller: CallerDep) -> int | None:
    return caller.id if caller else None


@router.post(
    "/projects",
    status_code=status.HTTP_201_CREATED,
    response_model=ProjectRead,
    responses=conflict_response("A project of that name exists."),
)
def create_project(body: ProjectCreate, sessions: SessionmakerDep) -> ProjectRead:
    """Make a project; its objects are reached only with its own keys."""
    try:
        keys.create_project(sessions, name=body.name)
    except ConflictError as exc:
        raise HTTPException(409, [error_item(("body", "name"), str(exc), "conflict")]) from None
    with sessions() as session:
        return ProjectRead.model_validate(
            store.get_project_by_name(session=session, name=body.name)
        )


@router.get("/projects", response_model=list[ProjectRead])
def list_projects(session: SessionDep) -> list[ProjectRead]:
    """Every project."""
    return [ProjectRead.model_validate(p) for p in store.list_projects(session=session)]


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    responses=not_found_response("project"),
)
def create_key(
    body: KeyCreate, sessions: SessionmakerDep, caller: CallerDep, response: Response
) -> KeyCreated:
    """Make an API key; the response is the only place its secret ever appears."""
    expires_at = None
    if body.expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    try:
        _, raw = keys.create_key(
            sessions,
            project_id=body.project_id,
            name=body.name,
            scopes=body.scopes,
            expires_at=expires_at,
            secret_key=secret_key(),
            created_by=_acting(caller),
        )
    except NotFoundError as exc:
        raise not_found(("body", "project_id"), str(exc)) from None
    response.headers["Cache-Control"] = "no-store"  # no proxy or browser keeps the secret
    parsed = keys.parse_raw_key(raw)
    assert parsed is not None
    with sessions() as session:
        row = store.find_key(session=session, key_id=parsed[0])
        return KeyCreated.model_validate({**KeyRead.model_validate(row).model_dump(), "key": raw})


@router.get("/keys", response_model=list[KeyRead])
def list_keys(
    session: SessionDep,
    project_id: Annotated[int, Query(ge=1, le=MAX_INT, description="The project's id.")],
) -> list[KeyRead]:
    """A project's keys, without their secrets."""
    found = store.list_keys(session=session, project_id=project_id)
    return [KeyRead.model_validate(k) for k in found]


@router.post("/keys/{key_id}/revoke", response_model=KeyRead, responses=not_found_response("key"))
def revoke_key(key_id: KeyId, sessions: SessionmakerDep, caller: CallerDep) -> KeyRead:
    """Revoke a key: it is refused from now on (revoking again changes nothing)."""
    row = keys.revoke(sessions, key_id=key_id, now=datetime.now(UTC), revoked_by=_acting(caller))
    return KeyRead.model_validate(row)
