"""Admin routes (the `admin` scope): the caller's project's API keys; projects for operators.

An admin key acts in its own project only: another project's keys answer 404 like missing
ones. Admin keys of project "default" (the first one, which `make run`'s key belongs to) are
the deployment's operators: they also list and open projects. Managing any project's keys is
the operator's too, through `python -m api admin` on the store.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from sqlalchemy.orm import sessionmaker

from api.auth import secret_key
from api.deps import KeyDep, ProjectDep, SessionDep, SessionmakerDep
from api.errors import conflict_response, error_item, error_list_response, not_found_response
from api.json_body import StrictJsonRoute
from api.schemas.admin import (
    KeyCreate,
    KeyCreated,
    KeyRead,
    ProjectCreate,
    ProjectCreated,
    ProjectRead,
)
from models import store
from models.services import keys
from models.services.errors import ConflictError
from models.services.keys import KeyIdentity
from models.store.tables import DEFAULT_PROJECT_ID

router = APIRouter(prefix="/admin", tags=["admin"], route_class=StrictJsonRoute)
KeyId = Annotated[
    str,
    Path(
        min_length=12,
        max_length=12,
        pattern=r"^[0-9a-f]{12}$",
        description="The key's public id: the 12 hex digits after `rl_`.",
        examples=["3f9a0c12b7de"],
    ),
]


def get_operator(caller: KeyDep) -> KeyIdentity:
    """The caller, if its admin key is an operator's (of project "default"); 403 if not."""
    if caller.project_id != DEFAULT_PROJECT_ID:
        message = 'only admin keys of project "default" (the operators\') manage projects'
        raise HTTPException(403, [error_item(("header", "Authorization"), message, "operator")])
    return caller


OperatorDep = Annotated[KeyIdentity, Depends(get_operator)]
OPERATORS_ONLY: dict[int | str, dict[str, Any]] = {
    403: error_list_response('The key is not an admin key of project "default".')
}


@router.get("/projects", response_model=list[ProjectRead], responses=OPERATORS_ONLY)
def list_projects(session: SessionDep, _: OperatorDep) -> list[ProjectRead]:
    """Every project (operators only)."""
    return [ProjectRead.model_validate(p) for p in store.list_projects(session=session)]


@router.post(
    "/projects",
    status_code=status.HTTP_201_CREATED,
    response_model=ProjectCreated,
    responses={**conflict_response("A project of that name exists."), **OPERATORS_ONLY},
)
def create_project(
    body: ProjectCreate, sessions: SessionmakerDep, caller: OperatorDep, response: Response
) -> ProjectCreated:
    """Open a project with its first admin key (operators only); the caller gets no other
    access to it."""
    try:
        _, raw = keys.open_project(
            sessions,
            name=body.name,
            secret_key=secret_key(),
            created_by=caller.id,
            expires_at=keys.bounded_expiry(None, caller),
        )
    except ConflictError as exc:
        raise HTTPException(409, [error_item(("body", "name"), str(exc), "conflict")]) from None
    with sessions() as session:
        project = store.get_project_by_name(session=session, name=body.name)
        read = ProjectRead.model_validate(project)
    return ProjectCreated(**read.model_dump(), admin_key=_created(sessions, raw, response))


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated)
def create_key(
    body: KeyCreate, sessions: SessionmakerDep, caller: KeyDep, response: Response
) -> KeyCreated:
    """Make an API key of the caller's project, expiring no later than the caller's own key;
    the response is the only place its secret ever appears."""
    expires_at = None
    if body.expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    _, raw = keys.create_key(
        sessions,
        project_id=caller.project_id,
        name=body.name,
        scopes=body.scopes,
        expires_at=keys.bounded_expiry(expires_at, caller),
        secret_key=secret_key(),
        created_by=caller.id,
    )
    return _created(sessions, raw, response)


def _created(sessions: sessionmaker[Any], raw_key: str, response: Response) -> KeyCreated:
    """A key just made, with its secret, in a response no proxy or browser may keep."""
    response.headers["Cache-Control"] = "no-store"
    parsed = keys.parse_raw_key(raw_key)
    assert parsed is not None
    with sessions() as session:
        row = store.find_key(session=session, key_id=parsed[0])
        return KeyCreated(**KeyRead.model_validate(row).model_dump(), key=raw_key)


@router.get("/keys", response_model=list[KeyRead])
def list_keys(session: SessionDep, project_id: ProjectDep) -> list[KeyRead]:
    """The caller's project's keys, revoked and expired ones too, without their secrets."""
    found = store.list_keys(session=session, project_id=project_id)
    return [KeyRead.model_validate(k) for k in found]


@router.post("/keys/{key_id}/revoke", response_model=KeyRead, responses=not_found_response("key"))
def revoke_key(key_id: KeyId, sessions: SessionmakerDep, caller: KeyDep) -> KeyRead:
    """Revoke a key of the caller's project: it is refused from now on (again: no change)."""
    row = keys.revoke(
        sessions,
        key_id=key_id,
        now=datetime.now(UTC),
        revoked_by=caller.id,
        project_id=caller.project_id,
    )
    return KeyRead.model_validate(row)
