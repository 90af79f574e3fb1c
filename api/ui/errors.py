"""Errors on the browser view's pages answer as a page: a page asked for without a valid key
goes to the sign-in form, any other refusal (a missing run, a bad filter parameter) is shown
with its reasons. Every other route keeps the API's JSON shape."""

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import served_path
from api.errors import http_error, validation_detail, validation_error
from api.ui.login import to_login
from api.ui.templating import STATIC_PATH, render


def _is_page(request: Request) -> bool:
    path = served_path(request)
    return path.startswith("/ui/") and not path.startswith(f"{STATIC_PATH}/")


def _reason(item: Any) -> str:
    """One entry of an error list as a line: where (the parameter), then what."""
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ())[1:])
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", ""))


def error_page(request: Request, code: int, detail: Any) -> Response:
    """The refusal as a page of the view, with each reason on a line."""
    items = detail if isinstance(detail, list) else [detail]
    reasons = [_reason(item) for item in items]
    title = f"{code} {HTTPStatus(code).phrase}"
    return render(request, "error.html", code, title=title, reasons=reasons)


async def page_or_api_error(request: Request, exc: Exception) -> Response:
    """An HTTPException: the sign-in form or an error page on a page, the API's JSON elsewhere."""
    assert isinstance(exc, StarletteHTTPException)
    if not _is_page(request):
        return await http_error(request, exc)
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        # The URL the browser asked for, prefix included: where signing in leads back to.
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return to_login(request, f"?next={target}")
    return error_page(request, exc.status_code, exc.detail)


async def page_or_validation_error(request: Request, exc: Exception) -> Response:
    """A 422: an error page naming each bad parameter on a page, the API's JSON elsewhere."""
    assert isinstance(exc, RequestValidationError)
    if not _is_page(request):
        return await validation_error(request, exc)
    return error_page(request, status.HTTP_422_UNPROCESSABLE_CONTENT, validation_detail(exc))
