"""An in-process API client whose requests use the test's rolled-back sessions."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.deps import get_session
from api.main import app


@pytest.fixture
def client(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """HTTP client for the app, bound to the test database."""

    def test_session() -> Iterator[Session]:
        with sessions() as session:
            yield session

    app.dependency_overrides[get_session] = test_session
    with TestClient(app) as client:
        yield client
    app.dependency_overrides.clear()
