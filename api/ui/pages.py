"""Every page of the browser view, one router: sign-in, experiments, runs, a run, compare."""

from fastapi import APIRouter

from api.ui import compare, experiments, login, run, runs

router = APIRouter()
for module in (login, experiments, runs, run, compare):
    router.include_router(module.router)
