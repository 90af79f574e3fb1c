"""The API's link to the broker: one sending client and one dispatcher per process."""

from functools import lru_cache
from typing import Annotated

from celery import Celery
from fastapi import Depends

from api.settings import get_settings
from models.messaging.broker import make_client
from models.messaging.dispatcher import Dispatcher


@lru_cache
def broker_client() -> Celery:
    """This process's Celery client; it sends tasks by name and never imports worker code."""
    return make_client(get_settings(), "reglab-api")


@lru_cache
def get_dispatcher() -> Dispatcher:
    """This process's dispatcher: the reconciler asks it which sends failed."""
    return Dispatcher(broker_client())


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
