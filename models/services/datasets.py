"""Uploaded datasets: store an upload (its blob and row, or the version it repeats), delete one.

An upload arrives in a `BlobWriter` already spooled to local disk; `store_upload` validates
the spooled file, publishes the blob under its sha256 and records the version in one
transaction. Nothing is stored for a file that fails validation.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.blobs import BlobRef, BlobStore, BlobWriter
from models.ingest import DatasetSummary, Format, IngestError, IngestLimits, inspect_dataset
from models.ingest.reader import DEFAULT_LABEL
from models.services.blobs import collect_unused
from models.services.errors import ConflictError, NotFoundError
from models.spec.catalog import BUILTIN_DATASETS
from models.store.tables import Dataset

TABLE_FORMATS = ("csv", "parquet")
# Two uploads of one name racing for the same next version: the loser tries again, and a
# third collision in a row is not a race but a bug to surface.
RACE_ATTEMPTS = 3
MAX_RUNS_LISTED = 10


@dataclass(frozen=True)
class Upload:
    """A dataset file as a client sends it: under which name, in which format, which label,
    and the row id of the API key that sent it (None from code that acts with no key)."""

    name: str
    format: Format
    label: str | None = None
    created_by: int | None = None

    @property
    def label_column(self) -> str:
        """The label column a table is read by ("label" by default); "" for other formats."""
        return (self.label or DEFAULT_LABEL) if self.format in TABLE_FORMATS else ""


@dataclass(frozen=True)
class Stored:
    """The dataset version an upload is: a new one (`created`), or the one it repeats."""

    dataset_id: int
    created: bool


def check_name(name: str) -> None:
    """IngestError on the `name` query parameter when a built-in dataset has that name."""
    if name in BUILTIN_DATASETS:
        known = ", ".join(BUILTIN_DATASETS)
        raise IngestError(
            ("query", "name"),
            f"{name!r} is a built-in dataset's name (built in: {known}); upload under another",
        )


def store_upload(
    sessions: sessionmaker[Any],
    *,
    project_id: int,
    upload: Upload,
    writer: BlobWriter,
    blobs: BlobStore,
    limits: IngestLimits,
) -> Stored:
    """Validate the spooled upload, store its blob and its version (or find the one it repeats).

    IngestError names what is wrong with the file; then nothing is stored.
    """
    check_name(upload.name)
    summary = inspect_dataset(writer.spooled(), upload.format, label=upload.label, limits=limits)
    ref = writer.commit()  # same bytes, same object: a repeat stores nothing new
    try:
        return _record(sessions, project_id, upload, ref, summary)
    except BaseException:
        collect_unused(sessions, blobs, [ref.sha256])
        raise


def _record(
    sessions: sessionmaker[Any],
    project_id: int,
    upload: Upload,
    ref: BlobRef,
    summary: DatasetSummary,
) -> Stored:
    """The version holding `ref`, added in a transaction of its own unless it exists."""
    attempts = RACE_ATTEMPTS
    while True:
        try:
            with sessions.begin() as session:
                return _find_or_add(session, project_id, upload, ref, summary)
        except IntegrityError:
            # A concurrent upload of this name took the version (or stored these very
            # bytes) first: look again, and answer with its twin or the next version.
            attempts -= 1
            if attempts == 0:
                raise


def _find_or_add(
    session: Session, project_id: int, upload: Upload, ref: BlobRef, summary: DatasetSummary
) -> Stored:
    """The version of `upload.name` with these bytes, else a new one after the newest."""
    twin = store.find_dataset_content(
        session=session,
        project_id=project_id,
        name=upload.name,
        sha256=ref.sha256,
        format=upload.format,
        label=upload.label_column,
    )
    if twin is not None:
        return Stored(twin.id, created=False)
    version = store.next_dataset_version(session=session, project_id=project_id, name=upload.name)
    row = Dataset(
        project_id=project_id,
        name=upload.name,
        version=version,
        sha256=ref.sha256,
        bytes=ref.size,
        format=upload.format,
        label=upload.label_column,
        input_shape=list(summary.input_shape),
        class_names=summary.class_names,
        class_counts=summary.class_counts,
        test_class_counts=summary.test_class_counts,
        created_by_key_id=upload.created_by,
    )
    return Stored(store.add_dataset(session=session, row=row).id, created=True)


def delete_dataset(
    sessions: sessionmaker[Any], *, project_id: int, dataset_id: int, blobs: BlobStore
) -> None:
    """Delete a dataset version, and its blob unless something else refers to it.

    ConflictError naming the runs while queued or running runs train on this version.
    """
    with sessions.begin() as session:
        row = store.get_dataset(session=session, project_id=project_id, dataset_id=dataset_id)
        if row is None:
            raise NotFoundError(f"dataset {dataset_id} not found")
        users = store.runs_using_dataset(session=session, dataset=row, limit=MAX_RUNS_LISTED + 1)
        if users:
            raise ConflictError(_in_use(row, "queued or running runs", users, "runs"))
        searches = store.searches_using_dataset(
            session=session, dataset=row, limit=MAX_RUNS_LISTED + 1
        )
        if searches:
            raise ConflictError(
                _in_use(
                    row, "searches that will start more runs: experiments", searches, "experiments"
                )
            )
        sha256 = row.sha256
        store.delete_dataset(session=session, row=row)
    collect_unused(sessions, blobs, [sha256])


def _in_use(row: Dataset, users: str, ids: list[int], route: str) -> str:
    """Which runs or searches keep a version from being deleted, and what to do about it."""
    listed = ", ".join(map(str, ids[:MAX_RUNS_LISTED]))
    more = " and more" if len(ids) > MAX_RUNS_LISTED else ""
    return (
        f"dataset {row.name!r} version {row.version} is used by {users} {listed}{more}: "
        f"cancel them (POST /{route}/{{id}}/cancel) or wait until they end"
    )
