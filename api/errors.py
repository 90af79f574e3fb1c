"""One shape for every 422: FastAPI's list of `{loc, msg, type}`, JSON-safe and short."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MAX_ECHO = 100  # characters of an invalid input (or of a location part) sent back
MAX_MESSAGE = 1000
MAX_ERRORS = 50  # errors listed in a 422: the first say enough, and 90,000 take seconds to render
# FastAPI's own error schema, which it adds to the document for every route with parameters.
VALIDATION_ERROR_SCHEMA = {"$ref": "#/components/schemas/HTTPValidationError"}
_OMIT = object()


def not_found_response(what: str) -> dict[int | str, dict[str, Any]]:
    """A route's documented 404: `what` is not in the caller's project (or does not exist)."""
    return {404: {"description": f"No such {what} in this project."}}


def unprocessable_response(description: str) -> dict[int | str, dict[str, Any]]:
    """A route's documented 422, with FastAPI's error list as its body."""
    return {
        422: {
            "description": description,
            "content": {"application/json": {"schema": VALIDATION_ERROR_SCHEMA}},
        }
    }


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


def unprocessable(
    loc: Sequence[str | int],
    msg: str,
    kind: str = "value_error",
    ctx: Mapping[str, Any] | None = None,
) -> HTTPException:
    """A 422 naming one field, in the shape of FastAPI's validation errors."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(loc, msg, kind, ctx)])


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with each input echoed short: NaN or megabytes never break or bloat it."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    detail = [
        error_item(e["loc"], e["msg"], e["type"], e.get("ctx"), e.get("input", _OMIT))
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        more = f"{len(errors) - MAX_ERRORS} more errors, not listed"
        detail.append(error_item(errors[MAX_ERRORS]["loc"][:1], more, "too_many_errors"))
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
