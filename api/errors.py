"""One shape for every 4xx: FastAPI's list of `{loc, msg, type}`, JSON-safe and short."""

import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.services.errors import ConflictError, NotFoundError

MAX_ECHO = 100  # characters of an invalid input (or of a location part) sent back
MAX_MESSAGE = 1000
MAX_ERRORS = 50  # errors listed in a 422: the first say enough, and 90,000 take seconds to render
# FastAPI's own error schema, which it adds to the document for every route with parameters.
VALIDATION_ERROR_SCHEMA = {"$ref": "#/components/schemas/HTTPValidationError"}
_OMIT = object()


def error_list_response(description: str) -> dict[str, Any]:
    """A documented 4xx whose body is FastAPI's error list."""
    return {
        "description": description,
        "content": {"application/json": {"schema": VALIDATION_ERROR_SCHEMA}},
    }


def not_found_response(what: str) -> dict[int | str, dict[str, Any]]:
    """A route's documented 404: `what` is not in the caller's project (or does not exist)."""
    return {404: error_list_response(f"No such {what} in this project.")}


def conflict_response(description: str) -> dict[int | str, dict[str, Any]]:
    """A route's documented 409: the request contradicts the object's state."""
    return {409: error_list_response(description)}


def unprocessable_response(description: str) -> dict[int | str, dict[str, Any]]:
    """A route's documented 422, with FastAPI's error list as its body."""
    return {422: error_list_response(description)}


def _text(value: str, limit: int = MAX_ECHO) -> str:
    """Text that encodes as UTF-8 (lone surrogates escaped), cut to `limit` characters."""
    cut = value if len(value) <= limit else value[:limit] + "…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _echo(value: Any) -> Any:
    """A short JSON-safe copy of an input; _OMIT for containers, which can be any size."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return value if abs(value) < 2**63 else _text(str(value))
    if isinstance(value, str):
        return _text(value)
    return _OMIT


def _context(value: Any) -> Any:
    """A context value (a bound, or the exception a validator raised) as JSON."""
    echoed = _echo(value)
    return _text(str(value), MAX_MESSAGE) if echoed is _OMIT else echoed


def error_item(
    loc: Sequence[str | int],
    msg: str,
    kind: str = "value_error",
    ctx: Mapping[str, Any] | None = None,
    value: Any = _OMIT,
) -> dict[str, Any]:
    """One error of FastAPI's list, safe to render whatever the request held."""
    item: dict[str, Any] = {
        "loc": [part if isinstance(part, int) else _text(str(part)) for part in loc],
        "msg": _text(msg, MAX_MESSAGE),
        "type": kind,
    }
    if ctx:
        item["ctx"] = {key: _context(value) for key, value in ctx.items()}
    if (echoed := _echo(value)) is not _OMIT:
        item["input"] = echoed
    return item


def not_found(loc: Sequence[str | int], msg: str) -> HTTPException:
    """A 404 naming the parameter whose id matches nothing in the caller's project."""
    return HTTPException(status.HTTP_404_NOT_FOUND, [error_item(loc, msg, "not_found")])


def unsupported_type(content_type: str | None, wanted: str, accepted: str) -> HTTPException:
    """The 415 for a body whose Content-Type is not `accepted`; `wanted` says what to send."""
    given = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    item = error_item(
        ("header", "content-type"),
        f"{given}: {wanted}",
        "unsupported_media_type",
        {"accepted": accepted},
        value=content_type,
    )
    return HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, [item])


def unprocessable(
    loc: Sequence[str | int],
    msg: str,
    kind: str = "value_error",
    ctx: Mapping[str, Any] | None = None,
) -> HTTPException:
    """A 422 naming one field, in the shape of FastAPI's validation errors."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(loc, msg, kind, ctx)])


def validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """A validation error's list, each input echoed short and at most MAX_ERRORS of them:
    NaN or megabytes never break or bloat it."""
    errors = exc.errors()
    detail = [
        error_item(e["loc"], e["msg"], e["type"], e.get("ctx"), e.get("input", _OMIT))
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        more = f"{len(errors) - MAX_ERRORS} more errors, not listed"
        detail.append(error_item(errors[MAX_ERRORS]["loc"][:1], more, "too_many_errors"))
    return detail


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 in the shape of `validation_detail`."""
    assert isinstance(exc, RequestValidationError)
    detail = validation_detail(exc)
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def refused(request: Request, exc: Exception) -> JSONResponse:
    """A service's NotFoundError (404) or ConflictError (409), naming what was refused: the
    path's id, or on a route without one (POST /experiments) the reused Idempotency-Key."""
    code, kind = (404, "not_found") if isinstance(exc, NotFoundError) else (409, "conflict")
    assert isinstance(exc, NotFoundError | ConflictError)
    loc = ("path", *request.path_params) if request.path_params else ("header", "Idempotency-Key")
    return JSONResponse({"detail": [error_item(loc, str(exc), kind)]}, status_code=code)


async def http_error(request: Request, exc: Exception) -> Response:
    """An HTTPException; a 4xx with text for its detail (Starlette's unknown path or method
    not allowed) gets the list shape too."""
    assert isinstance(exc, StarletteHTTPException)
    if 400 <= exc.status_code < 500 and isinstance(exc.detail, str):
        kind = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        detail = [error_item((), exc.detail, kind)]
        exc = HTTPException(exc.status_code, detail, exc.headers)
    return await http_exception_handler(request, exc)
