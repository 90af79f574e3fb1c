"""Request dependencies: a database session per request and the caller's project."""

from collections.abc import Iterator
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, status
from sqlalchemy.orm import Session, sessionmaker

from api.settings import get_settings
from models.db import make_engine, make_sessionmaker
from models.metric_names import EPOCH_METRICS
from models.tables import DEFAULT_PROJECT_ID


@lru_cache
def get_sessionmaker() -> sessionmaker[Any]:
    """The process-wide session factory for the configured store."""
    return make_sessionmaker(make_engine(get_settings().resolved_database_url()))


def get_session() -> Iterator[Session]:
    """A session for one request; routes commit what they write."""
    with get_sessionmaker()() as session:
        yield session


def get_project_id() -> int:
    """The caller's project (the default project until API keys exist)."""
    return DEFAULT_PROJECT_ID


SessionDep = Annotated[Session, Depends(get_session)]
SessionmakerDep = Annotated[sessionmaker[Any], Depends(get_sessionmaker)]
ProjectDep = Annotated[int, Depends(get_project_id)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1-500).")]
Cursor = Annotated[
    int | None, Query(ge=1, description="`next_cursor` of the previous page; omit for the first.")
]
RunId = Annotated[int, Path(ge=1, description="Run id, as listed in its experiment.")]
ExperimentId = Annotated[int, Path(ge=1, description="Experiment id, from `Location`.")]


def parse_metric_keys(raw: str) -> list[str]:
    """Comma-separated per-epoch metric names; 422 naming any unknown one."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = sorted(set(keys) - set(EPOCH_METRICS))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown metric keys {unknown}; known: {', '.join(EPOCH_METRICS)}",
        )
    return keys
