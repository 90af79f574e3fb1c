"""Dataset queries: the versions of the datasets uploaded to a project."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.store.tables import Dataset


@dataclass(frozen=True)
class DatasetRef:
    """Which stored file a run trains on, and how to read it."""

    name: str
    version: int
    sha256: str
    format: str  # an ingest format: npz, csv, parquet, image_zip
    label: str  # "" for formats without a label column

    @classmethod
    def of(cls, row: Dataset) -> "DatasetRef":
        """The reference to a stored dataset version."""
        return cls(row.name, row.version, row.sha256, row.format, row.label)


def find_dataset(
    *, session: Session, project_id: int, name: str, version: int | None = None
) -> Dataset | None:
    """The project's dataset `name` at `version`, or its newest version when None."""
    query = select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name)
    if version is not None:
        query = query.where(Dataset.version == version)
    return session.scalars(query.order_by(Dataset.version.desc()).limit(1)).first()


def dataset_versions(*, session: Session, project_id: int, name: str) -> list[int]:
    """The versions of the project's dataset `name`, oldest first (empty if none)."""
    query = select(Dataset.version).where(Dataset.project_id == project_id, Dataset.name == name)
    return list(session.scalars(query.order_by(Dataset.version)))


def next_dataset_version(*, session: Session, project_id: int, name: str) -> int:
    """The version a new upload of `name` gets: one past the highest ever stored."""
    query = select(func.max(Dataset.version)).where(
        Dataset.project_id == project_id, Dataset.name == name
    )
    return int(session.scalar(query) or 0) + 1
