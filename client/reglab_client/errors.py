"""What a call can raise: the API's refusals with their error body, and an unreachable API."""

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class ErrorItem:
    """One entry of the API's error list: where (`loc`), what (`msg`), and its kind."""

    loc: tuple[str | int, ...]
    msg: str
    type: str
    ctx: dict[str, Any] | None = None

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.loc)
        return f"{where}: {self.msg}" if where else self.msg


class ReglabError(Exception):
    """Every error this package raises."""


class ApiError(ReglabError):
    """The API answered with an error status; `errors` holds its body's `detail` list."""

    def __init__(self, status: int, errors: list[ErrorItem], body: Any, url: str) -> None:
        self.status = status
        self.errors = errors
        self.body = body
        self.url = url
        reasons = "; ".join(map(str, errors)) or "no details"
        super().__init__(f"{status} {reason_phrase(status)}: {reasons}")


class NotFoundError(ApiError):
    """404: no such object in this key's project (another project's objects look missing)."""


class ConflictError(ApiError):
    """409: the request contradicts the object's state (an ended run, a reused key...)."""


class ValidationError(ApiError):
    """422: a field or a bound is violated; each item names the field."""


class AuthError(ApiError):
    """401 (no key, or a key the API refuses) or 403 (the key lacks the scope)."""


class UnavailableError(ApiError):
    """503: the API's store or broker is unreachable (retried first if the request is
    idempotent)."""


class UnreachableError(ReglabError):
    """The API could not be reached (still so after the retries)."""


class DroppedError(UnreachableError):
    """The connection dropped while a response's body was being read."""


SUBCLASSES: dict[int, type[ApiError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    503: UnavailableError,
}


def reason_phrase(status: int) -> str:
    """`Not Found` for 404: the standard phrase of a status."""
    return httpx.codes.get_reason_phrase(status) or "Error"


def _items(detail: Any) -> list[ErrorItem]:
    """The error list of a body's `detail`: FastAPI's list of {loc, msg, type}, or a text."""
    if isinstance(detail, str):
        return [ErrorItem((), detail.strip(), "error")] if detail.strip() else []
    if not isinstance(detail, list):
        return []
    return [
        ErrorItem(
            tuple(item.get("loc") or ()),
            str(item.get("msg", "")),
            str(item.get("type", "")),
            item.get("ctx"),
        )
        for item in detail
        if isinstance(item, dict)
    ]


def api_error(response: httpx.Response) -> ApiError:
    """The exception for an error response, reading its body (JSON or not)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    detail = body.get("detail") if isinstance(body, dict) else body
    kind = SUBCLASSES.get(response.status_code, ApiError)
    return kind(response.status_code, _items(detail), body, str(response.request.url))
