"""The API's link to the broker: one sending client and one dispatcher per process."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from api.settings import get_settings
from models.messaging.broker import Broker
from models.messaging.dispatcher import Dispatcher


@lru_cache
def get_broker() -> Broker:
    """This process's broker link; it sends tasks by name and never imports worker code."""
    return Broker(get_settings(), "reglab-api")


@lru_cache
def get_dispatcher() -> Dispatcher:
    """This process's dispatcher: the reconciler asks it which sends failed."""
    return Dispatcher(get_broker())


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
