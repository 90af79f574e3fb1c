"""An in-process API client whose requests use the test's rolled-back sessions."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.deps import get_session, get_sessionmaker
from api.main import app


@contextmanager
def client_on(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """The app with every request (and every search top-up) using `sessions`."""

    def session() -> Iterator[Session]:
        with sessions() as s:
            yield s

    app.dependency_overrides[get_session] = session
    app.dependency_overrides[get_sessionmaker] = lambda: sessions
    with TestClient(app) as client:
        yield client
    app.dependency_overrides.clear()


@pytest.fixture
def client(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """HTTP client for the app, bound to the test database."""
    with client_on(sessions) as client:
        yield client
