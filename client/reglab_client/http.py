"""The HTTP layer: the key on every request, retries with backoff, errors raised as ApiError."""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx

from reglab_client.errors import DroppedError, UnreachableError, api_error

DEFAULT_URL = "http://127.0.0.1:8000"  # where `make run` serves
URL_VARIABLE, KEY_VARIABLE = "REGLAB_URL", "REGLAB_API_KEY"
# Never reached the server: safe to send again, whatever the request does.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
# Worth another try later: the store or broker is away, or the key's event streams are all
# open (a dropped one is given back when the server notices).
RETRY_STATUSES = frozenset({429, 503})


def _user_agent() -> str:
    try:
        return f"reglab-client/{version('reglab-client')}"
    except PackageNotFoundError:  # imported from a source tree, not installed
        return "reglab-client"


@dataclass(frozen=True)
class Retry:
    """How often, and how patiently, a request is sent again after a 429, a 503 or a lost
    connection."""

    attempts: int = 5
    backoff: float = 0.5  # seconds before the 2nd attempt, doubling for each next one
    max_wait: float = 30.0  # cap of a wait, Retry-After included

    def wait(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        after = response.headers.get("retry-after", "") if response is not None else ""
        asked = float(after) if after.isdigit() else 0.0
        return min(max(self.backoff * 2.0**attempt, asked), self.max_wait)


DEFAULT_RETRY = Retry()


class Http:
    """An httpx.Client bound to one API and key, that retries what is safe to retry."""

    def __init__(
        self,
        url: str | None,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        retry: Retry = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = (url or os.environ.get(URL_VARIABLE) or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get(KEY_VARIABLE)
        headers = {"User-Agent": _user_agent()}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.retry, self.sleep = retry, sleep
        self.client = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def _send(
        self, request: httpx.Request, idempotent: bool, stream: bool, after_timeout: bool = True
    ) -> httpx.Response:
        """The response to `request`, sent again when that cannot do it twice: after a
        connection that never reached the server, and, for an idempotent request, after any
        lost connection (a read timeout only if `after_timeout`) or a 429 or 503 (a write may
        have committed before its 503)."""
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if last or not _resendable(exc, idempotent, after_timeout):
                    raise unreachable(request, exc) from exc
                self.sleep(self.retry.wait(attempt, None))
                continue
            if response.status_code not in RETRY_STATUSES or not idempotent or last:
                return response
            response.close()
            self.sleep(self.retry.wait(attempt, response))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        after_timeout: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request (GETs are idempotent unless said otherwise; `after_timeout=False`:
        not sent again once it timed out, the server may still be working on it); ApiError on
        >= 400."""
        request = self.client.build_request(method, path, **kwargs)
        safe = method == "GET" if idempotent is None else idempotent
        response = self._send(request, safe, stream=False, after_timeout=after_timeout)
        if response.is_error:
            raise api_error(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a request's response."""
        return self.request(method, path, **kwargs).json()

    @contextmanager
    def stream(self, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A GET whose body is read as it comes (downloads, event streams); ApiError on >= 400,
        DroppedError if the connection drops while the body is read."""
        request = self.client.build_request("GET", path, **kwargs)
        response = self._send(request, True, stream=True)
        try:
            if response.is_error:
                response.read()
                raise api_error(response)
            yield response
        except httpx.TransportError as exc:
            raise DroppedError(f"{request.url}: {exc or type(exc).__name__}") from exc
        finally:
            response.close()


def _resendable(exc: httpx.TransportError, idempotent: bool, after_timeout: bool) -> bool:
    """Whether a request that failed with `exc` may be sent again."""
    if isinstance(exc, NOT_SENT):  # it never reached the server
        return True
    if isinstance(exc, httpx.ReadTimeout):  # the server may still be working on it
        return idempotent and after_timeout
    return idempotent


def unreachable(request: httpx.Request, exc: httpx.TransportError) -> UnreachableError:
    """The error of a request whose connection failed."""
    return UnreachableError(f"{request.url}: {exc or type(exc).__name__}")


def query(**params: Any) -> dict[str, Any]:
    """Query parameters without the unset ones (the API's defaults apply to those)."""
    return {name: value for name, value in params.items() if value is not None}
