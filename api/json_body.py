"""Strict JSON request bodies: what Python's json accepts but JSON, or the store, does not."""

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.body_limit import BODY_RESPONSES, check_json_type, read_bounded, takes_json_body
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

    async def body(self) -> bytes:
        """The body, read no further than `REGLAB_MAX_BODY_BYTES` (a 413 past it)."""
        if not hasattr(self, "_body"):
            self._body = await read_bounded(self)
        return self._body

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

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if takes_json_body(self):
            self.responses = {**BODY_RESPONSES, **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's own handler, given the strict request (and, for a JSON body, its type)."""
        handler = super().get_route_handler()
        json_body = takes_json_body(self)

        async def strict(request: Request) -> Response:
            if json_body:
                check_json_type(request)
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
