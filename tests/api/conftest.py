"""An in-process API client whose requests use the test's rolled-back sessions."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.auth import secret_key
from api.deps import get_session, get_sessionmaker
from api.main import app
from models.services.keys import create_key
from models.store.tables import DEFAULT_PROJECT_ID


def key_with(
    sessions: sessionmaker[Any],
    scopes: list[str],
    project_id: int = DEFAULT_PROJECT_ID,
    **kwargs: Any,
) -> str:
    """A raw key of the project (the default one unless given) with `scopes`."""
    options: dict[str, Any] = {"expires_at": None, "created_by": None, **kwargs}
    _, raw = create_key(
        sessions,
        project_id=project_id,
        name="t",
        scopes=scopes,
        secret_key=secret_key(),
        **options,
    )
    return raw


def bearer(raw: str) -> dict[str, str]:
    """Headers that send `raw` as the bearer key."""
    return {"Authorization": f"Bearer {raw}"}


@contextmanager
def client_on(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """The app with every request (and every search top-up) using `sessions`, each sent with
    an admin key of the default project."""

    def session() -> Iterator[Session]:
        with sessions() as s:
            yield s

    app.dependency_overrides[get_session] = session
    app.dependency_overrides[get_sessionmaker] = lambda: sessions
    raw_key = key_with(sessions, ["admin"])
    with TestClient(app, headers={"Authorization": f"Bearer {raw_key}"}) as client:
        yield client
    app.dependency_overrides.clear()


@pytest.fixture
def client(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """HTTP client for the app, bound to the test database."""
    with client_on(sessions) as client:
        yield client
