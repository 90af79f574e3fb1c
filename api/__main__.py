"""`python -m api`: serve the API on REGLAB_HOST:REGLAB_PORT."""

import uvicorn

from api.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    uvicorn.run("api.main:app", host=settings.host, port=settings.port, log_level="info")
