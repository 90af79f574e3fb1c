"""JSON bodies are bounded and typed: 413 past `REGLAB_MAX_BODY_BYTES`, 415 for other types.

These bounds belong to the routes that take a JSON body (StrictJsonRoute); data uploads have
their own, larger, streamed limit.
"""

from typing import Any

from fastapi import HTTPException, Request, params, status
from fastapi.routing import APIRoute

from api.errors import error_item, error_list_response, unsupported_type
from api.settings import get_settings

JSON_TYPES = "application/json or application/*+json"


def takes_json_body(route: APIRoute) -> bool:
    """Whether the route reads a JSON body (form and file bodies are not JSON)."""
    return route.body_field is not None and not isinstance(route.body_field.field_info, params.Form)


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON: application/json or application/*+json."""
    media = (content_type or "").partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_json_type(request: Request) -> None:
    """A 415 unless the request says its body is JSON.

    A missing Content-Type is refused too: a browser can send a typeless or form body to
    another site without a CORS preflight, but never an application/json one.
    """
    content_type = request.headers.get("content-type")
    if is_json(content_type):
        return
    wanted = f"this route takes a JSON body; send Content-Type {JSON_TYPES}"
    raise unsupported_type(content_type, wanted, JSON_TYPES)


def _too_large(limit: int) -> HTTPException:
    """The 413 for a body over `limit` bytes."""
    message = f"the body is over {limit} bytes, the limit for a JSON body (REGLAB_MAX_BODY_BYTES)"
    item = error_item(("body",), message, "body_too_large", {"max_bytes": limit})
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, [item])


async def read_bounded(request: Request) -> bytes:
    """The body, read no further than the limit: a 413 as soon as it is known to be over."""
    limit = get_settings().max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)  # before a byte is read
    body = bytearray()
    async for chunk in request.stream():  # chunked bodies declare no length: count them
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: error_list_response("The body is over `REGLAB_MAX_BODY_BYTES` (1 MiB by default)."),
    415: error_list_response(f"The Content-Type is missing or not JSON: send {JSON_TYPES}."),
}
