"""The FastAPI application: REST v1 for experiments, runs, metrics and datasets."""

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from api.reconciler import reconciler
from api.routes import compare, experiments, reports, runs, system
from models.store.pages import CursorError

DESCRIPTION = """
Train regularized networks with PyTorch or TensorFlow/Keras over HTTP and compare them.

`POST /experiments` with a spec (and optionally a grid, random or TPE `search`) returns 202
at once; workers train the runs in the background and `GET /runs/{id}/metrics` shows the
curves as epochs finish. `GET /runs?filter=...&order_by=...` finds runs; `GET /compare`
lines them up.
"""


async def _bad_cursor(request: Request, exc: Exception) -> JSONResponse:
    """A cursor this listing did not hand out is a 422 on `cursor`."""
    detail = [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def create_app() -> FastAPI:
    """Build the API; the docs page is served locally, with no CDN."""
    app = FastAPIOffline(
        title="reglab", version="1.0.0", description=DESCRIPTION, lifespan=reconciler
    )
    for module in (experiments, reports, runs, compare, system):
        app.include_router(module.router)
    app.add_exception_handler(CursorError, _bad_cursor)
    return app


app = create_app()
