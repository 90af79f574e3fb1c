"""Artifact queries: the files a run left in the blob store, by name."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.store.tables import Artifact


@dataclass(frozen=True)
class ArtifactFile:
    """One stored file of a run: its name, the blob holding it and how to serve it."""

    name: str
    sha256: str
    bytes: int
    media_type: str


def add_artifacts(*, session: Session, run_id: int, files: Sequence[ArtifactFile]) -> None:
    """Record the run's files (stored in the blob store already)."""
    session.add_all(
        Artifact(
            run_id=run_id,
            name=file.name,
            sha256=file.sha256,
            bytes=file.bytes,
            media_type=file.media_type,
        )
        for file in files
    )
    session.flush()


def list_artifacts(*, session: Session, run_id: int) -> list[Artifact]:
    """The run's artifacts, by name."""
    query = select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.name)
    return list(session.scalars(query))


def get_artifact(*, session: Session, run_id: int, name: str) -> Artifact | None:
    """The run's artifact `name`, or None."""
    return session.get(Artifact, (run_id, name))
