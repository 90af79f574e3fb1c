"""API settings (env prefix REGLAB_): the shared store/broker settings plus the HTTP server."""

from functools import lru_cache

from pydantic import Field

from models.settings import Settings as SharedSettings


class Settings(SharedSettings):
    """Settings of the API process."""

    host: str = Field(default="127.0.0.1", description="Interface the API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")


@lru_cache
def get_settings() -> Settings:
    """The API's settings, read once from the environment."""
    return Settings()
