"""Strict JSON request bodies: what Python's json accepts but JSON, or the store, does not."""

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.body_limit import BODY_RESPONSES, check_json_type, read_bounded, takes_json_body
from api.errors import unprocessable
from models.store.tables import UNSTORABLE_TEXT

Loc = tuple[str | int, ...]
NON_FINITE = "NaN and Infinity are not JSON numbers: give a finite number"
UNSTORABLE = "text with a NUL character or a lone surrogate (\\ud800-\\udfff) is not allowed"
# No object of the API has more than 20 keys; unknown keys are an error each, and
# validating a 1 MiB object of them (90k errors) would hold the event loop for seconds.
MAX_KEYS = 100
TOO_MANY_KEYS = f"an object with more than {MAX_KEYS} keys: no object of this API has as many"
# Bodies parse in threads of their own: many large ones at once never take every thread the
# sync routes run in.
PARSERS = anyio.CapacityLimiter(4)


def _item_flaw(item: Any) -> tuple[str, str] | None:
    """The error type and message for NaN, Infinity, unstorable text or an object of too many
    keys; None for the rest."""
    if isinstance(item, float) and not math.isfinite(item):
        return "finite_number", NON_FINITE
    if isinstance(item, str) and UNSTORABLE_TEXT.search(item):
        return "string_unicode", UNSTORABLE
    if isinstance(item, dict) and len(item) > MAX_KEYS:
        return "too_many_keys", TOO_MANY_KEYS
    return None


def _flaw(value: Any) -> tuple[Loc, tuple[str, str]] | None:
    """Where a parsed body holds a flaw of `_item_flaw`, and which; None if nowhere."""
    if problem := _item_flaw(value):
        return (), problem
    stack: list[tuple[Loc, Any]] = [((), value)] if isinstance(value, dict | list) else []
    while stack:  # not recursive: json nests deeper than this function could recurse
        loc, item = stack.pop()
        for key, child in item.items() if isinstance(item, dict) else enumerate(item):
            if problem := _item_flaw(key) or _item_flaw(child):
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


def _strict_loads(body: bytes) -> Any:
    """The parsed body; a 422 naming the field for NaN, Infinity, unstorable text or an
    object of too many keys."""
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
    return value


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
            # A 1 MiB body takes ~0.5 s to walk: in a thread, other requests go on meanwhile.
            body = await self.body()
            self._json = await anyio.to_thread.run_sync(_strict_loads, body, limiter=PARSERS)
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
