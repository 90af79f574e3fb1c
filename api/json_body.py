"""Strict JSON request bodies: what Python's json accepts but JSON, or the store, does not."""

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.errors import unprocessable
from models.store.tables import UNSTORABLE_TEXT

Loc = tuple[str | int, ...]
NON_FINITE = "NaN and Infinity are not JSON numbers: give a finite number"
UNSTORABLE = "text with a NUL character or a lone surrogate (\\ud800-\\udfff) is not allowed"


def _scalar_flaw(item: Any) -> tuple[str, str] | None:
    """The error type and message for NaN, Infinity or unstorable text; None for the rest."""
    if isinstance(item, float) and not math.isfinite(item):
        return "finite_number", NON_FINITE
    if isinstance(item, str) and UNSTORABLE_TEXT.search(item):
        return "string_unicode", UNSTORABLE
    return None


def _flaw(value: Any) -> tuple[Loc, tuple[str, str]] | None:
    """Where a parsed body holds NaN, Infinity or unstorable text, and what; None if nowhere."""
    if problem := _scalar_flaw(value):
        return (), problem
    stack: list[tuple[Loc, Any]] = [((), value)] if isinstance(value, dict | list) else []
    while stack:  # not recursive: json nests deeper than this function could recurse
        loc, item = stack.pop()
        for key, child in item.items() if isinstance(item, dict) else enumerate(item):
            if problem := _scalar_flaw(key) or _scalar_flaw(child):
                return (*loc, key), problem
            if isinstance(child, dict | list):
                stack.append(((*loc, key), child))
    return None


def _not_json(body: bytes, exc: Exception) -> json.JSONDecodeError:
    """A body json cannot read, as the error FastAPI answers with its own 422 `json_invalid`."""
    position = exc.start if isinstance(exc, UnicodeDecodeError) else 0
    reason = {
        UnicodeDecodeError: "not UTF-8",
        RecursionError: "nested too deeply",
    }.get(type(exc), "a number with too many digits")
    return json.JSONDecodeError(reason, body.decode("utf-8", "replace"), position)


class StrictJsonRequest(Request):
    """A request whose JSON body is RFC 8259 JSON, with text every store can hold."""

    async def json(self) -> Any:
        """The parsed body; a 422 naming the field for NaN, Infinity or unstorable text."""
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                value = json.loads(body)
            except json.JSONDecodeError:
                raise
            except (ValueError, RecursionError) as exc:
                raise _not_json(body, exc) from exc
            flaw = _flaw(value)
            if flaw is not None:
                loc, (kind, message) = flaw
                raise unprocessable(("body", *loc), message, kind)
            self._json = value
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose body is read by StrictJsonRequest; every router of the API uses it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's own handler, given the strict request."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
