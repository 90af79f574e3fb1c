"""`python -m api`: serve the API on REGLAB_HOST:REGLAB_PORT."""

import uvicorn

from api.settings import get_settings

# On SIGTERM or Ctrl-C, open streams (run events) are closed after this long rather than
# holding the stop; their clients resume with Last-Event-ID.
GRACEFUL_SHUTDOWN_SECONDS = 5

if __name__ == "__main__":
    settings = get_settings()
    uvicorn.run(
        "api.main:app",
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
