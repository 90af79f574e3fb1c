"""Settings shared by every process: where the store and the broker live."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def owner_only_folder(path: Path) -> Path:
    """`path`, its missing folders created readable by their owner only (existing ones kept)."""
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


class Settings(BaseSettings):
    """Store and broker locations; empty URLs mean the embedded defaults under `home`."""

    model_config = SettingsConfigDict(env_prefix="REGLAB_", extra="ignore")

    home: Path = Field(
        default=Path(".reglab"),
        description="Directory for the embedded SQLite store, embedded broker and checkpoints; "
        "created readable by its owner only.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the store; empty means SQLite at `<home>/reglab.sqlite`.",
    )
    broker_url: str = Field(
        default="",
        description="Celery broker URL; empty means the embedded file broker in `<home>/broker`.",
    )
    storage_url: str = Field(
        default="",
        description="fsspec URL of the blob store (uploaded datasets, artifacts, checkpoints): "
        "`s3://bucket/prefix` for a deployment, its endpoint and credentials from the standard "
        "AWS variables (`AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, ...); empty means the "
        "folder `<home>/blobs`, readable by its owner only.",
    )

    lease_seconds: float = Field(
        default=60.0,
        ge=2.0,
        le=3600.0,
        description="A running run's lease: its worker renews it every second or so; a run "
        "whose lease lapses (the worker died) is queued again by the reconciler.",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Claims a run gets; after this many lost workers it fails `worker_lost`.",
    )
    reconcile_seconds: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        description="How often the API's reconciler looks for lapsed leases and lost queued "
        "runs (0: never).",
    )
    requeue_after_seconds: float = Field(
        default=600.0,
        ge=1.0,
        le=86400.0,
        description="Last resort for losses the reconciler cannot see (a send that failed in "
        "a worker, a message taken by a process killed before its claim): a run queued this "
        "long is sent to its queue again. A broker that lost its messages and sends that "
        "failed in the API are caught within one pass; a duplicate delivery is skipped.",
    )

    def resolved_database_url(self) -> str:
        """The store URL, falling back to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        owner_only_folder(self.home)
        return f"sqlite:///{(self.home / 'reglab.sqlite').resolve()}"

    def resolved_storage_url(self) -> str:
        """The blob store URL, falling back to the folder `<home>/blobs`."""
        return self.storage_url or str(self.home.resolve() / "blobs")

    def resolved_broker_url(self) -> str:
        """The broker URL, falling back to the embedded file broker."""
        return self.broker_url or "filesystem://"

    def broker_transport(self) -> str | None:
        """The kombu transport class for the embedded broker, or None to follow the URL."""
        return None if self.broker_url else "models.messaging.embedded_broker:Transport"

    def embedded_broker_folder(self) -> Path | None:
        """The embedded broker's folder, created owner-only; None when a real broker is set."""
        return None if self.broker_url else owner_only_folder(self.home.resolve() / "broker")

    def broker_transport_options(self) -> dict[str, object]:
        """Transport options for the embedded file broker (empty for a real broker)."""
        folder = self.embedded_broker_folder()
        if folder is None:
            return {}
        # One folder for in and out: producers and consumers on this host share it.
        return {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            # kombu's default is ./control, i.e. wherever the process was started.
            "control_folder": str(folder / "control"),
            "polling_interval": 0.1,
        }


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
