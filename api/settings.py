"""API settings (env prefix REGLAB_): the shared store/broker settings plus the HTTP server."""

from functools import lru_cache

from pydantic import Field

from models.settings import Settings as SharedSettings


class Settings(SharedSettings):
    """Settings of the API process."""

    host: str = Field(default="127.0.0.1", description="Interface the API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest JSON body a route reads (1 MiB holds any spec and search with "
        "room to spare); a larger one is answered 413 before it is parsed. Data uploads have "
        "their own limit.",
    )


@lru_cache
def get_settings() -> Settings:
    """The API's settings, read once from the environment."""
    return Settings()
