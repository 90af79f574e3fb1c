"""Settings shared by every process: where the store and the broker live, the server secret."""

import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32


def owner_only_folder(path: Path) -> Path:
    """`path`, its missing folders created readable by their owner only (existing ones kept)."""
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def create_owner_only_file(path: Path, text: str) -> bool:
    """Write `text` to a new file readable by its owner only; False if `path` already exists.

    The file appears whole or not at all (written aside, then hard-linked into place, which
    fails if the name is taken): a process starting at the same moment reads either nothing
    or all of it, and two such processes end up sharing the first one's file.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


class Settings(BaseSettings):
    """Store and broker locations; empty URLs mean the embedded defaults under `home`."""

    # Settings hold credentials (database URLs, the secret key): an error names the variable
    # and the rule it breaks, never the value.
    model_config = SettingsConfigDict(
        env_prefix="REGLAB_", extra="ignore", hide_input_in_errors=True
    )

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
    secret_key: str = Field(
        default="",
        repr=False,
        description="Server secret the API keys' HMACs are made with (at least 32 characters); "
        "empty means a random one generated once into `<home>/secret_key` (owner-only). "
        "Changing it invalidates every API key.",
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

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        """A short secret could be guessed, and every key's HMAC with it."""
        if value and len(value) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"REGLAB_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters (e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`), or empty to "
                "have one generated into <home>/secret_key"
            )
        return value

    def resolved_secret_key(self) -> bytes:
        """The server secret: REGLAB_SECRET_KEY, else `<home>/secret_key` (made on first use)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = owner_only_folder(self.home.resolve()) / "secret_key"
        if not path.exists():
            create_owner_only_file(path, secrets.token_urlsafe(48) + "\n")
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"{path} holds fewer than {MIN_SECRET_KEY_LENGTH} characters")
        return key.encode()

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
