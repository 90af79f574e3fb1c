"""`python -m api`: serve the API on REGLAB_HOST:REGLAB_PORT; `python -m api admin ...`: manage
projects and API keys (see api/admin_cli.py)."""

import sys

import uvicorn

from api.admin_cli import main as admin
from api.settings import get_settings

# On SIGTERM or Ctrl-C, open streams (run events) are closed after this long rather than
# holding the stop; their clients resume with Last-Event-ID.
GRACEFUL_SHUTDOWN_SECONDS = 5
USAGE = """usage: python -m api            serve the API
       python -m api admin ...  manage projects and API keys (admin --help)"""


def serve() -> None:
    """Serve the API until SIGTERM or Ctrl-C."""
    settings = get_settings()
    uvicorn.run(
        "api.main:app",
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["admin"]:
        sys.exit(admin(sys.argv[2:]))
    if len(sys.argv) > 1:
        sys.exit(USAGE)
    serve()
