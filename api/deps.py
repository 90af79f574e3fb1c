"""Request dependencies: a database session per request and the caller's project."""

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import (
    Depends,
    HTTPException,
    Path,
    Query,
    Request,
    Security,
    status,
)
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session, sessionmaker

from api.auth import BEARER, check_csrf, check_scope, identify, presented_key
from api.errors import not_found, unprocessable
from api.settings import get_settings
from models import store
from models.metric_names import EPOCH_METRICS
from models.services.keys import KeyIdentity, record_use
from models.spec.catalog import Catalog
from models.store.catalog import StoredCatalog
from models.store.db import make_engine, make_sessionmaker
from models.store.run_filter import (
    MAX_FILTER_LENGTH,
    FilterError,
    Node,
    Order,
    parse_filter,
    parse_order,
)
from models.store.tables import MAX_INT, Experiment


@lru_cache
def get_sessionmaker() -> sessionmaker[Any]:
    """The process-wide session factory for the configured store."""
    return make_sessionmaker(make_engine(get_settings().resolved_database_url()))


def get_session() -> Iterator[Session]:
    """A session for one request's reads; the services own their writes' transactions."""
    with get_sessionmaker()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SessionmakerDep = Annotated[sessionmaker[Any], Depends(get_sessionmaker)]


def get_caller(
    request: Request,
    sessions: SessionmakerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> KeyIdentity | None:
    """The caller's API key (None on a public route); 401 or 403 if it does not do."""
    raw_key, via_cookie = presented_key(request, credentials.credentials if credentials else None)
    now = datetime.now(UTC)
    # A session of its own, closed before the route runs: the route's reads and writes are
    # never nested in the key check's transaction.
    with sessions() as session:
        caller = identify(session, request, raw_key, now)
    if caller is None:
        return None
    if caller.use_due(now):  # every accepted key, refused by scope or not: at most once a minute
        record_use(sessions, caller, now)
    check_scope(request, caller)
    if via_cookie:
        check_csrf(request, str(raw_key))
    return caller


CallerDep = Annotated[KeyIdentity | None, Depends(get_caller)]


def get_key(caller: CallerDep) -> KeyIdentity:
    """The caller's key, on a route that acts as it (its project, who did what)."""
    if caller is None:  # a public route asking for a key is a bug: refuse, never guess
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this route needs an API key")
    return caller


KeyDep = Annotated[KeyIdentity, Depends(get_key)]


def get_project_id(key: KeyDep) -> int:
    """The caller's project: the one its key belongs to."""
    return key.project_id


ProjectDep = Annotated[int, Depends(get_project_id)]


def get_catalog(session: SessionDep, project_id: ProjectDep) -> Catalog:
    """The datasets the caller's specs may name: the built-in ones and the project's uploads."""
    return StoredCatalog(session, project_id)


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1-500).")]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="`next_cursor` of the previous page; omit for the first."),
]
RunId = Annotated[int, Path(ge=1, le=MAX_INT, description="Run id, as listed in its experiment.")]
ExperimentId = Annotated[int, Path(ge=1, le=MAX_INT, description="Experiment id, from `Location`.")]


def experiment_or_404(session: Session, project_id: int, experiment_id: int) -> Experiment:
    """The project's experiment with this id; 404 if there is none."""
    experiment = store.get_experiment(
        session=session, project_id=project_id, experiment_id=experiment_id
    )
    if experiment is None:
        raise not_found(("path", "experiment_id"), f"experiment {experiment_id} not found")
    return experiment


def _query_error(name: str, exc: FilterError) -> HTTPException:
    """A 422 in FastAPI's own error shape, with the position of the problem in the parameter."""
    return unprocessable(("query", name), str(exc), "filter_syntax", {"position": exc.position})


def parse_run_filter(
    filter: Annotated[
        str | None,
        Query(
            max_length=MAX_FILTER_LENGTH,
            description="Which runs: comparisons (`= != < <= > >=`) and `[not] in (...)` over "
            "`spec.<dotted path>`, `summary.<key>`, `status`, `backend`, `experiment`, `id`, "
            "`seed`, `epochs_done`, `objective`, joined by `and`, `or`, `not` and parentheses. "
            "Text in quotes. A malformed filter is a 422 giving the position of the error.",
            examples=[
                "(spec.regularization.dropout in (0.3, 0.6) or spec.regularization.batchnorm "
                "= true) and summary.test_acc > 0.9"
            ],
        ),
    ] = None,
) -> Node | None:
    """The parsed `filter` query parameter."""
    try:
        return parse_filter(filter) if filter else None
    except FilterError as exc:
        raise _query_error("filter", exc) from None


def parse_run_order(
    order_by: Annotated[
        str | None,
        Query(
            max_length=300,
            description="`<field> [asc|desc]` with a field as in `filter`; runs without a "
            "value come last. Newest first when omitted.",
            examples=["summary.test_acc desc"],
        ),
    ] = None,
) -> Order | None:
    """The parsed `order_by` query parameter."""
    try:
        return parse_order(order_by) if order_by else None
    except FilterError as exc:
        raise _query_error("order_by", exc) from None


RunFilter = Annotated[Node | None, Depends(parse_run_filter)]
RunOrder = Annotated[Order | None, Depends(parse_run_order)]


def parse_metric_keys(raw: str, name: str = "keys") -> list[str]:
    """Comma-separated per-epoch metric names; 422 naming any unknown one."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = sorted(set(keys) - set(EPOCH_METRICS))
    if unknown:
        message = f"unknown metric keys {unknown}; known: {', '.join(EPOCH_METRICS)}"
        raise unprocessable(("query", name), message)
    return keys
