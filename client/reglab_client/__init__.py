"""Python client of the reglab API: `Client(url, api_key)`; the `reglab` CLI is its `cli` extra.

Imports httpx and nothing else outside the standard library: no torch, no TensorFlow, none
of the server's packages.
"""

from reglab_client.client import Client
from reglab_client.errors import (
    ApiError,
    AuthError,
    ConflictError,
    DroppedError,
    ErrorItem,
    NotFoundError,
    ReglabError,
    UnavailableError,
    UnreachableError,
    ValidationError,
)
from reglab_client.events import EpochEvent, Event, ExperimentEnd, RunEnd, StatusEvent
from reglab_client.http import Retry

__all__ = [
    "ApiError",
    "AuthError",
    "Client",
    "ConflictError",
    "DroppedError",
    "EpochEvent",
    "ErrorItem",
    "Event",
    "ExperimentEnd",
    "NotFoundError",
    "ReglabError",
    "Retry",
    "RunEnd",
    "StatusEvent",
    "UnavailableError",
    "UnreachableError",
    "ValidationError",
]
