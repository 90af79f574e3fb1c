"""The FastAPI application: REST v1 for experiments, runs, metrics and datasets."""

import logging
from typing import Any

from fastapi import Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from api.auth import UNAUTHORIZED, public_paths
from api.deps import get_caller
from api.errors import error_item, refused
from api.metrics import instrument
from api.reconciler import reconciler
from api.routes import (
    admin,
    artifacts,
    compare,
    datasets,
    events,
    experiments,
    metrics,
    reports,
    runs,
    system,
    workers,
)
from api.schemas import StoreUnavailableRead
from api.settings import get_settings
from api.ui import errors as ui_errors
from api.ui import pages as ui_pages
from api.ui.templating import STATIC_PATH, static_files
from models.services.errors import ConflictError, NotFoundError
from models.spec import SpecError
from models.store.db import is_outage
from models.store.pages import CursorError

DESCRIPTION = """
Train regularized networks with PyTorch or TensorFlow/Keras over HTTP and compare them.

`POST /experiments` with a spec (and optionally a grid, random or TPE `search`) returns 202
at once; workers train the runs in the background and `GET /runs/{id}/metrics` shows the
curves as epochs finish. `GET /runs?filter=...&order_by=...` finds runs; `GET /compare`
lines them up.
"""

RETRY_AFTER_SECONDS = 5
log = logging.getLogger(__name__)


STORE_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": StoreUnavailableRead,
        "description": "The store is unreachable for the moment (a database restart); "
        "retry after `Retry-After` seconds.",
    }
}


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A store that does not answer is a 503 with Retry-After, not a 500: clients retry."""
    if not is_outage(exc):
        raise exc  # a bug (e.g. a schema older than the code): a 500, logged
    log.warning("store unavailable during %s %s: %s", request.method, request.url.path, exc)
    detail = (
        "the database is unreachable; retry in a few seconds (a POST /experiments retried "
        "with the same Idempotency-Key never creates a second experiment)"
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse({"detail": detail}, status_code=503, headers=headers)


async def _bad_cursor(request: Request, exc: Exception) -> JSONResponse:
    """A cursor this listing did not hand out is a 422 on `cursor`."""
    detail = [error_item(("query", "cursor"), str(exc))]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _spec_error(request: Request, exc: Exception) -> JSONResponse:
    """A spec that breaks a bound once resolved: a 422 in FastAPI's shape, naming the field."""
    assert isinstance(exc, SpecError)
    detail = [error_item(("body", *exc.loc), exc.message)]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _browser_guards(app: FastAPI) -> None:
    """Only the configured Host names (no DNS rebinding); CORS only for configured origins."""
    settings = get_settings()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_host_list())
    if origins := settings.cors_origin_list():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        )


def _openapi_without_keys_on_public_routes(app: FastAPI) -> None:
    """The docs show the lock on every route but the public ones."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for path in public_paths():
            for operation in schema["paths"].get(path, {}).values():
                operation.pop("security", None)
                for code in UNAUTHORIZED:
                    operation["responses"].pop(str(code), None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app() -> FastAPI:
    """Build the API, closed by default; the docs page is served locally, with no CDN."""
    app = FastAPIOffline(
        title="reglab",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=reconciler,
        dependencies=[Depends(get_caller)],
        responses=UNAUTHORIZED,
    )
    routes = (
        experiments,
        reports,
        runs,
        events,
        artifacts,
        compare,
        datasets,
        system,
        workers,
        metrics,
        admin,
    )
    for module in routes:
        app.include_router(module.router, responses=STORE_UNAVAILABLE)
    app.include_router(ui_pages.router)
    app.mount(STATIC_PATH, static_files(), name="ui-static")  # public: scripts and styles
    _browser_guards(app)
    app.state.http_metrics = instrument(app)  # outermost: refused requests are counted too
    _openapi_without_keys_on_public_routes(app)
    app.add_exception_handler(RequestValidationError, ui_errors.page_or_validation_error)
    app.add_exception_handler(CursorError, _bad_cursor)
    app.add_exception_handler(SpecError, _spec_error)
    app.add_exception_handler(NotFoundError, refused)
    app.add_exception_handler(ConflictError, refused)
    app.add_exception_handler(StarletteHTTPException, ui_errors.page_or_api_error)
    app.add_exception_handler(OperationalError, _store_unavailable)
    return app


app = create_app()
