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


@contextmanager
def client_on(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """The app with every request (and every search top-up) using `sessions`, each sent with
    an admin key of the default project."""

    def session() -> Iterator[Session]:
        with sessions() as s:
            yield s

    app.dependency_overrides[get_session] = session
    app.dependency_overrides[get_sessionmaker] = lambda: sessions
    _, raw_key = create_key(
        sessions,
        project_id=DEFAULT_PROJECT_ID,
        name="tests",
        scopes=["admin"],
        expires_at=None,
        secret_key=secret_key(),
        created_by=None,
    )
    with TestClient(app, headers={"Authorization": f"Bearer {raw_key}"}) as client:
        yield client
    app.dependency_overrides.clear()


@pytest.fixture
def client(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """HTTP client for the app, bound to the test database."""
    with client_on(sessions) as client:
        yield client
