"""Settings shared by every process: where the store and the broker live."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Store and broker locations; empty URLs mean the embedded defaults under `home`."""

    model_config = SettingsConfigDict(env_prefix="REGLAB_", extra="ignore")

    home: Path = Field(
        default=Path(".reglab"),
        description="Directory for the embedded SQLite store, embedded broker and checkpoints.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the store; empty means SQLite at `<home>/reglab.sqlite`.",
    )
    broker_url: str = Field(
        default="",
        description="Celery broker URL; empty means the embedded file broker in `<home>/broker`.",
    )

    def resolved_database_url(self) -> str:
        """The store URL, falling back to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.home / 'reglab.sqlite').resolve()}"

    def resolved_broker_url(self) -> str:
        """The broker URL, falling back to the embedded file broker."""
        return self.broker_url or "filesystem://"

    def broker_transport(self) -> str | None:
        """The kombu transport class for the embedded broker, or None to follow the URL."""
        return None if self.broker_url else "models.embedded_broker:Transport"

    def broker_transport_options(self) -> dict[str, object]:
        """Transport options for the embedded file broker (empty for a real broker)."""
        if self.broker_url:
            return {}
        folder = (self.home / "broker").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        # One folder for in and out: producers and consumers on this host share it.
        return {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "polling_interval": 0.1,
        }


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
