"""Dataset queries: the versions of the datasets uploaded to a project."""

from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.store.pages import Page, paginate
from models.store.tables import Artifact, Dataset, DatasetName, Experiment, Run, RunStatus


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


def next_dataset_version(*, session: Session, project_id: int, name: str) -> int:
    """Take the version a new upload of `name` gets: one past every number it ever had.

    A deleted version's number is never given again, so `{"name": n, "version": v}` names
    one file for good; the count is a row of its own, locked until the upload commits.
    """
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(DatasetName)
    statement = (
        insert.values(project_id=project_id, name=name, last_version=1)
        .on_conflict_do_update(
            index_elements=["project_id", "name"],
            set_={"last_version": DatasetName.last_version + 1},
        )
        .returning(DatasetName.last_version)
    )
    return int(session.execute(statement).scalar_one())


def get_dataset(*, session: Session, project_id: int, dataset_id: int) -> Dataset | None:
    """The project's dataset version with this id, or None (another project's looks the same)."""
    row = session.get(Dataset, dataset_id)
    return row if row is not None and row.project_id == project_id else None


def find_dataset_content(
    *, session: Session, project_id: int, name: str, sha256: str, format: str, label: str
) -> Dataset | None:
    """The version of `name` holding these bytes read this way, if one was stored."""
    query = select(Dataset).where(
        Dataset.project_id == project_id,
        Dataset.name == name,
        Dataset.sha256 == sha256,
        Dataset.format == format,
        Dataset.label == label,
    )
    return session.scalars(query).first()


def list_dataset_versions(*, session: Session, project_id: int, name: str) -> list[Dataset]:
    """Every stored version of the project's dataset `name`, oldest first."""
    query = select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name)
    return list(session.scalars(query.order_by(Dataset.version)))


def list_datasets(
    *, session: Session, project_id: int, limit: int, cursor: str | None
) -> Page[Dataset]:
    """One page of the project's uploaded dataset versions, newest first."""
    query = select(Dataset).where(Dataset.project_id == project_id)
    return paginate(query, session=session, id_column=Dataset.id, limit=limit, cursor=cursor)


def add_dataset(*, session: Session, row: Dataset) -> Dataset:
    """Add a dataset version; flushed, so that a unique-constraint race fails here."""
    session.add(row)
    session.flush()
    return row


def delete_dataset(*, session: Session, row: Dataset) -> None:
    """Remove a dataset version's row (its blob is the caller's to collect)."""
    session.delete(row)
    session.flush()


def runs_using_dataset(*, session: Session, dataset: Dataset, limit: int) -> list[int]:
    """Ids of the project's queued or running runs that train on this version, oldest first.

    A run's stored spec names the version it was pinned to at submit; a spec with no
    version (a search over dataset names) means the newest one until its run starts, then
    the version it started on.
    """
    spec_name = Run.spec[("dataset", "name")].as_string()
    spec_version = Run.spec[("dataset", "version")].as_integer()
    newest = find_dataset(session=session, project_id=dataset.project_id, name=dataset.name)
    same_version = or_(spec_version == dataset.version, Run.dataset_version == dataset.version)
    if newest is not None and newest.id == dataset.id:
        same_version = or_(same_version, spec_version.is_(None))
    query = select(Run.id).where(
        Run.project_id == dataset.project_id,
        Run.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
        spec_name == dataset.name,
        same_version,
    )
    return list(session.scalars(query.order_by(Run.id).limit(limit)))


def searches_using_dataset(*, session: Session, dataset: Dataset, limit: int) -> list[int]:
    """Ids of the project's searches that will start more runs on this version, oldest first.

    Their later runs are made from the experiment's spec, which names the version it was
    pinned to at submit (none for a search over dataset names: then the newest).
    """
    spec_name = Experiment.spec[("dataset", "name")].as_string()
    spec_version = Experiment.spec[("dataset", "version")].as_integer()
    same_version = spec_version == dataset.version
    newest = find_dataset(session=session, project_id=dataset.project_id, name=dataset.name)
    if newest is not None and newest.id == dataset.id:
        same_version = or_(same_version, spec_version.is_(None))
    query = select(Experiment.id).where(
        Experiment.project_id == dataset.project_id,
        Experiment.cancelled_at.is_(None),
        Experiment.configurations_started < Experiment.configurations_planned,
        spec_name == dataset.name,
        same_version,
    )
    return list(session.scalars(query.order_by(Experiment.id).limit(limit)))


def blob_in_use(*, session: Session, sha256: str) -> bool:
    """Whether any dataset version or artifact, of any project, still refers to this blob.

    Blobs are shared by content across projects: another project's identical file is the
    same blob, so this check is deliberately not scoped to one project.
    """
    datasets = select(Dataset.id).where(Dataset.sha256 == sha256)
    artifacts = select(Artifact.run_id).where(Artifact.sha256 == sha256)
    return bool(session.scalar(select(exists(datasets) | exists(artifacts))))
