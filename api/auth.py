"""Authentication for the whole app: every route needs a project's API key unless public.

The key is a bearer token (`Authorization: Bearer rl_<id>_<secret>`), never a query
parameter. The browser view keeps it in an HttpOnly, SameSite=Strict cookie instead (a page's
script cannot read it, another site's requests do not carry it), and a write sent with that
cookie must also carry the page's CSRF token: a cross-site form can do nothing either way.
GET and HEAD need the `read` scope, other methods `write`, `/admin` routes `admin`, and
`/metrics` `metrics` (a scope that opens nothing else, for the key a monitoring host keeps).
"""

import hashlib
import hmac
from datetime import datetime
from functools import lru_cache
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session
from starlette._utils import get_route_path  # what FastAPI's own router matches by

from api.errors import error_item, error_list_response
from api.settings import get_settings
from models.services.keys import KeyIdentity, authenticate

# Routes that answer without a key: health, and the docs pages. `/openapi.json` and the
# docs' own scripts and styles are not API routes (no dependency runs for them).
PUBLIC_PATHS = frozenset(
    {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/ui/login", "/ui/logout"}
)
# Deployment-wide figures for Prometheus: public only where REGLAB_METRICS_PUBLIC says so.
METRICS_PATH = "/metrics"
# The browser view's cookie (the raw key) and the header its pages send their CSRF token in.
SESSION_COOKIE = "reglab_key"
CSRF_HEADER = "X-CSRF-Token"
ADMIN_PREFIX = "/admin"
READ_METHODS = frozenset({"GET", "HEAD"})
# What each scope allows besides itself.
IMPLIED = {
    "admin": {"admin", "write", "read", "metrics"},
    "write": {"write", "read"},
    "read": {"read"},
    "metrics": {"metrics"},
}
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A project's API key, `rl_<key id>_<secret>` (`python -m api admin "
    "create-key`, or `$REGLAB_HOME/api_key` after `make run`).",
)
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: error_list_response("No API key, or one that is unknown, expired or revoked."),
    403: error_list_response("The key lacks the scope this route needs."),
}


@lru_cache
def secret_key() -> bytes:
    """This deployment's key for hashing API keys (REGLAB_SECRET_KEY, or its home's file)."""
    return get_settings().resolved_secret_key()


def _refusal(code: int, message: str, kind: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if code == status.HTTP_401_UNAUTHORIZED else None
    return HTTPException(code, [error_item(("header", "Authorization"), message, kind)], headers)


def presented_key(request: Request, bearer: str | None) -> tuple[str | None, bool]:
    """The key the request carries and whether it came in the browser cookie (a bearer
    header wins)."""
    if bearer is not None:
        return bearer, False
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie, cookie is not None


def csrf_token(raw_key: str) -> str:
    """The CSRF token of a browser session: a keyed hash of its key, so the server keeps no
    state for it and another site cannot compute it."""
    return hmac.new(secret_key(), b"csrf\0" + raw_key.encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, raw_key: str) -> None:
    """A write authenticated by the cookie must carry the page's CSRF token; 403 if not."""
    if request.method in READ_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(raw_key).encode()):
        message = f"a write with the browser view's cookie needs its {CSRF_HEADER} header"
        raise HTTPException(403, [error_item(("header", CSRF_HEADER), message, "csrf")])


def public_paths() -> frozenset[str]:
    """The routes that answer without a key: PUBLIC_PATHS, and /metrics if so configured."""
    return PUBLIC_PATHS | {METRICS_PATH} if get_settings().metrics_public else PUBLIC_PATHS


def required_scope(method: str, path: str) -> str:
    """The scope a request needs: admin under /admin, metrics for /metrics, read to read,
    write to change."""
    if path == ADMIN_PREFIX or path.startswith(f"{ADMIN_PREFIX}/"):
        return "admin"
    if path == METRICS_PATH:
        return "metrics"
    return "read" if method in READ_METHODS else "write"


def served_path(request: Request) -> str:
    """The path the app serves this request at, without any root_path a proxy mounts it
    under: what the public list and the scopes go by."""
    return get_route_path(request.scope)


def identify(
    session: Session, request: Request, raw_key: str | None, now: datetime
) -> KeyIdentity | None:
    """The caller's key (None on a public route); 401 if missing, unknown, expired or revoked."""
    if served_path(request) in public_paths():
        return None
    if raw_key is None:
        message = "this route needs an API key: send `Authorization: Bearer <key>`"
        raise _refusal(status.HTTP_401_UNAUTHORIZED, message, "missing_key")
    identity = authenticate(session, raw_key, secret_key(), now)
    if identity is None:
        message = "the API key is unknown, expired or revoked"
        raise _refusal(status.HTTP_401_UNAUTHORIZED, message, "invalid_key")
    return identity


def check_scope(request: Request, identity: KeyIdentity) -> None:
    """403 unless the key has the scope the request needs."""
    needed = required_scope(request.method, served_path(request))
    if not any(needed in IMPLIED.get(scope, ()) for scope in identity.scopes):
        held = ", ".join(sorted(identity.scopes))
        message = f"this route needs the {needed!r} scope; the key has {held}"
        raise _refusal(status.HTTP_403_FORBIDDEN, message, "insufficient_scope")
