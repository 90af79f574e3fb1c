"""The app served over real HTTP by uvicorn in a thread of this process, on a given store."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.deps import get_session, get_sessionmaker
from tests.integration.stack import free_port, poll


@contextmanager
def on_store(app: FastAPI, sessions: sessionmaker[Any]) -> Iterator[None]:
    """Every request of `app` (the key check included) uses `sessions` within the block."""

    def session() -> Iterator[Session]:
        with sessions() as s:
            yield s

    app.dependency_overrides[get_session] = session
    app.dependency_overrides[get_sessionmaker] = lambda: sessions
    try:
        yield
    finally:
        del app.dependency_overrides[get_session], app.dependency_overrides[get_sessionmaker]


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free local port for the block; its base URL.

    Logging is left as the process has it (no `log_config`): uvicorn's access log reaches
    the root logger, where tests capture it.
    """
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        poll(lambda: server.started or None, timeout=30, interval=0.02)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
