"""The browser view's templates and static files: its own, and plotly.js from the installed
plotly package, so no page loads anything from outside reglab."""

from pathlib import Path

from fastapi import Request, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.auth import SESSION_COOKIE, csrf_token

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC_PATH = "/ui/static"


def static_files() -> StaticFiles:
    """The browser view's own files and plotly.min.js, served under STATIC_PATH."""
    return StaticFiles(directory=HERE / "static", packages=[("plotly", "package_data")])


def page_csrf_token(request: Request) -> str:
    """The CSRF token a page sends with its writes ("" on a page seen without the cookie)."""
    raw_key = request.cookies.get(SESSION_COOKIE)
    return csrf_token(raw_key) if raw_key else ""


def root_path(request: Request) -> str:
    """The prefix the API is served under (uvicorn --root-path behind a proxy), "" if none:
    every URL a page holds starts with it."""
    return str(request.scope.get("root_path", ""))


def render(request: Request, template: str, code: int = 200, **context: object) -> Response:
    """A page: `template` with `context`, the root path, the static files' path and the
    page's CSRF token."""
    root = root_path(request)
    full = {
        "root": root,
        "static": root + STATIC_PATH,
        "csrf_token": page_csrf_token(request),
        **context,
    }
    return TEMPLATES.TemplateResponse(request, template, full, status_code=code)
