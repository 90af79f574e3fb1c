"""Project and API key queries: keys are found by their public key id, never by the secret."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models.store.tables import ApiKey, Project


def create_project(*, session: Session, name: str) -> Project:
    """Add a project (the name is unique: a second one fails at flush)."""
    project = Project(name=name)
    session.add(project)
    session.flush()
    return project


def get_project_by_name(*, session: Session, name: str) -> Project | None:
    """The project called `name`, or None."""
    return session.scalars(select(Project).where(Project.name == name)).first()


def add_key(
    *,
    session: Session,
    project_id: int,
    key_id: str,
    name: str,
    scopes: Sequence[str],
    secret_hmac: str,
    expires_at: datetime | None,
    created_by: int | None,
) -> ApiKey:
    """Add a key of the project; its secret is given only as its HMAC."""
    key = ApiKey(
        project_id=project_id,
        key_id=key_id,
        name=name,
        scopes=list(scopes),
        secret_hmac=secret_hmac,
        expires_at=expires_at,
        created_by_key_id=created_by,
    )
    session.add(key)
    session.flush()
    return key


def find_key(*, session: Session, key_id: str) -> ApiKey | None:
    """The key with this public key id, or None."""
    return session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()


def list_keys(*, session: Session, project_id: int) -> list[ApiKey]:
    """Every key of the project, revoked and expired ones included, oldest first."""
    query = select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.id)
    return list(session.scalars(query))


def revoke_key(
    *, session: Session, key_id: str, now: datetime, revoked_by: int | None, project_id: int | None
) -> ApiKey | None:
    """Revoke the key with this key id, of `project_id` if given (a revoked one keeps its first
    revocation); None if there is none."""
    which = [ApiKey.key_id == key_id]
    if project_id is not None:
        which.append(ApiKey.project_id == project_id)
    session.execute(
        update(ApiKey)
        .where(*which, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_key_id=revoked_by)
    )
    return session.scalars(
        select(ApiKey).where(*which).execution_options(populate_existing=True)
    ).first()


def touch_key(*, session: Session, row_id: int, now: datetime, every: timedelta) -> None:
    """Set the key's last_used_at to `now` unless it was set less than `every` before.

    Conditional, so concurrent requests of one key write it once.
    """
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == row_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - every),
        )
        .values(last_used_at=now)
    )


def list_projects(*, session: Session) -> list[Project]:
    """Every project, oldest first."""
    return list(session.scalars(select(Project).order_by(Project.id)))
