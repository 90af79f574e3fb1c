"""The FastAPI application: REST v1 for experiments, runs, metrics and datasets."""

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.routes import compare, experiments, runs, system

DESCRIPTION = """
Train regularized networks with PyTorch over HTTP and compare their curves.

`POST /experiments` with a spec returns 202 at once; a worker trains the run in the
background and `GET /runs/{id}/metrics` shows its curves as epochs finish.
"""


def create_app() -> FastAPI:
    """Build the API; the docs page is served locally, with no CDN."""
    app = FastAPIOffline(title="reglab", version="1.0.0", description=DESCRIPTION)
    for module in (experiments, runs, compare, system):
        app.include_router(module.router)
    return app


app = create_app()
