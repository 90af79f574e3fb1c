"""A Client whose HTTP transport answers from a test's function, recording what was sent."""

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from reglab_client import Client, Retry

Handler = Callable[[httpx.Request], httpx.Response]
NO_WAIT = Retry(attempts=3, backoff=0, max_wait=0)


@dataclass
class Recorder:
    """The requests a mocked API received, in order, and the waits between retries."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a streamed body (an upload) is consumed as the server would
        self.requests.append(request)
        return self.handler(request)


def mocked(handler: Handler, retry: Retry = NO_WAIT) -> tuple[Client, Recorder]:
    """A client of a fake API at http://api.test whose answers `handler` gives."""
    recorder = Recorder(handler)
    client = Client(
        "http://api.test", "rl_test_key", retry=retry, transport=httpx.MockTransport(recorder)
    )
    return client, recorder


def error_body(status: int, loc: list[str | int], msg: str, kind: str) -> httpx.Response:
    """A refusal in the API's shape: FastAPI's list of {loc, msg, type}."""
    return httpx.Response(status, json={"detail": [{"loc": loc, "msg": msg, "type": kind}]})
