"""Signing in to the browser view: the key is checked once and kept in an HttpOnly,
SameSite=Strict cookie; a page asked for without one sends the browser here (api/ui/errors.py)."""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import SESSION_COOKIE, secret_key
from api.deps import SessionmakerDep
from api.ui.templating import render, root_path
from models.services.keys import authenticate

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
HOME = "/ui/experiments"
COOKIE_SECONDS = 30 * 24 * 3600  # a month; an expired or revoked key comes back here sooner


def _home(request: Request) -> str:
    return root_path(request) + HOME


def _safe_next(request: Request, target: str) -> str:
    """Where to go after signing in: a page of the view, never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{root_path(request)}/ui/"):
        return _home(request)
    return target


def _foreign(request: Request) -> bool:
    """Whether a form was posted from another site's page (browsers send Origin with it)."""
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != request.url.netloc


def to_login(request: Request, query: str = "") -> RedirectResponse:
    """A redirect to the sign-in form (with `query`, e.g. `?next=...`)."""
    url = f"{root_path(request)}/ui/login{query}"
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def _login_page(request: Request, next_page: str, error: str = "", code: int = 200) -> Response:
    return render(request, "login.html", code, next=next_page, error=error)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> Response:
    """The sign-in form."""
    return _login_page(request, _safe_next(request, next))


@router.post("/login", response_class=HTMLResponse)
def log_in(
    request: Request,
    sessions: SessionmakerDep,
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the key and keep it in the browser's cookie; the form again if it does not do."""
    if _foreign(request):
        return _login_page(request, _home(request), "sign in from reglab's own page", 403)
    with sessions() as session:
        identity = authenticate(session, key.strip(), secret_key(), datetime.now(UTC))
    if identity is None:
        return _login_page(
            request, _safe_next(request, next), "that key is unknown, expired or revoked", 401
        )
    response = RedirectResponse(_safe_next(request, next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        key.strip(),
        max_age=COOKIE_SECONDS,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
def log_out(request: Request) -> Response:
    """Forget the key: the cookie is cleared (public: signing out needs no key, but another
    site's page cannot do it)."""
    if _foreign(request):
        return Response("sign out from reglab's own page", status.HTTP_403_FORBIDDEN)
    response = to_login(request)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
