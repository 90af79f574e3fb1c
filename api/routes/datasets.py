"""Datasets: the built-in catalog, and files uploaded to the project (upload, list, read, delete).

An upload is the raw request body, streamed to a spool file while it is hashed and counted
(never held whole in memory), validated in a thread, then stored under its sha256.
"""

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from sqlalchemy.orm import Session, sessionmaker

from api.blobs import BlobStoreDep
from api.deps import Cursor, KeyDep, Limit, ProjectDep, SessionDep, SessionmakerDep
from api.errors import (
    conflict_response,
    error_item,
    error_list_response,
    not_found,
    not_found_response,
    unsupported_type,
)
from api.json_body import StrictJsonRoute
from api.schemas import (
    BuiltinDatasetRead,
    DatasetListRead,
    DatasetRead,
    DatasetVersionRead,
    SplitRead,
    SplitsRead,
    UploadedDatasetRead,
)
from models import store
from models.blobs import BlobStore, BlobWriter
from models.ingest import Format, IngestError, IngestLimits, get_ingest_limits
from models.services import datasets as services
from models.spec.catalog import BUILTIN_DATASETS
from models.store.actors import public_key_ids
from models.store.tables import MAX_INT, Dataset

router = APIRouter(prefix="/datasets", tags=["datasets"], route_class=StrictJsonRoute)
UPLOAD_TYPE = "application/octet-stream"
# Spooled in slices of this size, each written in a thread: the event loop never waits on
# the disk, and an upload holds at most one slice in memory.
SLICE_BYTES = 1024 * 1024
# Uploads are checked in threads of their own, at most this many at once: large files take
# seconds each, and must never take every thread that the sync routes run in.
INSPECTORS = anyio.CapacityLimiter(2)
NOT_FOUND = not_found_response("dataset")

DatasetName = Annotated[
    str,
    Query(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",  # as spec.dataset.name
        description='The name specs use (`dataset: {"name": ...}`); a new content under an '
        "existing name is its next version. Built-in names are refused.",
        examples=["iris"],
    ),
]
DatasetFormat = Annotated[
    Format,
    Query(
        description="`npz` (arrays `x`, `y`, optionally `x_test`, `y_test`), `csv` or "
        "`parquet` (a label column, every other column a numeric feature), `image_zip` (one "
        "folder per class of PNG/JPEG images of one size, grayscale or RGB).",
        examples=["csv"],
    ),
]
LabelColumn = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="CSV and Parquet: the label column (`label` when omitted); its values may "
        "be integers or strings. Not for other formats.",
        examples=["species"],
    ),
]
DatasetId = Annotated[
    int, Path(ge=1, le=MAX_INT, description="Dataset version id, from `Location`.", examples=[7])
]
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file itself, as the raw body (`curl --data-binary @file -H "
        f"'Content-Type: {UPLOAD_TYPE}'`), at most `REGLAB_INGEST_MAX_BYTES`.",
        "content": {
            UPLOAD_TYPE: {
                "schema": {"type": "string", "format": "binary"},
                "example": "f1,f2,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n"
                "6.3,3.3,virginica\n4.9,3.0,setosa\n",
            }
        },
    }
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": DatasetRead,
        "description": "This name already holds this content: that version.",
    },
    413: error_list_response("The file is over `REGLAB_INGEST_MAX_BYTES` (512 MiB by default)."),
    415: error_list_response(f"The Content-Type is not `{UPLOAD_TYPE}`."),
    422: error_list_response(
        "The file is not a valid dataset of this format (the message names the problem: "
        "a missing column, NaN features, an archive member outside the archive, a bound of "
        "`REGLAB_INGEST_*`, ...), or `name` is a built-in dataset's."
    ),
}


def _check_type(request: Request) -> None:
    """A 415 unless the body says it is a file: a browser cannot send this type cross-site
    without a CORS preflight, unlike a form's."""
    content_type = request.headers.get("content-type")
    if (content_type or "").partition(";")[0].strip().lower() == UPLOAD_TYPE:
        return
    wanted = f"send the file as the raw body with Content-Type {UPLOAD_TYPE}"
    raise unsupported_type(content_type, wanted, UPLOAD_TYPE)


def _refusal(exc: IngestError) -> HTTPException:
    """The 413 (too large) or 422 for an upload, naming the part of the request at fault."""
    code = 413 if exc.kind == "too_large" else status.HTTP_422_UNPROCESSABLE_CONTENT
    return HTTPException(code, [error_item(exc.loc, exc.message, exc.kind)])


async def _receive(request: Request, writer: BlobWriter, limits: IngestLimits) -> None:
    """Spool the body; IngestError (413) past the byte bound, before reading when declared."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        limits.check("max_bytes", int(declared), "file bytes (Content-Length)")
    received, pending = 0, bytearray()
    async for chunk in request.stream():  # chunked bodies declare no length: counted
        received += len(chunk)
        limits.check("max_bytes", received, "file bytes received")
        pending += chunk
        if len(pending) >= SLICE_BYTES:
            await anyio.to_thread.run_sync(writer.write, bytes(pending))
            pending.clear()
    await anyio.to_thread.run_sync(writer.write, bytes(pending))


def _store(
    sessions: sessionmaker[Any],
    project_id: int,
    upload: services.Upload,
    writer: BlobWriter,
    blobs: BlobStore,
    limits: IngestLimits,
) -> tuple[DatasetRead, bool]:
    """Validate and store the spooled upload; the version it is, and whether it is new."""
    stored = services.store_upload(
        sessions, project_id=project_id, upload=upload, writer=writer, blobs=blobs, limits=limits
    )
    with sessions() as session:
        return _detail(session, project_id, stored.dataset_id), stored.created


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetRead,
    responses=UPLOAD_RESPONSES,
    openapi_extra=UPLOAD_BODY,
)
async def upload_dataset(
    request: Request,
    name: DatasetName,
    format: DatasetFormat,
    sessions: SessionmakerDep,
    key: KeyDep,
    blobs: BlobStoreDep,
    response: Response,
    label: LabelColumn = None,
) -> DatasetRead:
    """Upload a dataset file (the raw body): checked, stored by sha256, a new version of `name`
    (201), or the version that already holds these bytes (200)."""
    _check_type(request)
    upload, limits = services.Upload(name, format, label, key.id), get_ingest_limits()
    try:
        services.check_name(name)  # before a byte is read
        with blobs.writer(max_bytes=limits.max_bytes) as writer:
            await _receive(request, writer, limits)
            work = partial(_store, sessions, key.project_id, upload, writer, blobs, limits)
            read, created = await anyio.to_thread.run_sync(work, limiter=INSPECTORS)
    except IngestError as exc:
        raise _refusal(exc) from None
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/datasets/{read.id}"
    return read


def builtin_datasets() -> list[BuiltinDatasetRead]:
    """The built-in datasets, their parameters and shapes with default parameters."""
    out = []
    for info in BUILTIN_DATASETS.values():
        shape = info.shape({})
        out.append(
            BuiltinDatasetRead(
                name=info.name,
                description=info.description,
                input_shape=list(shape.input_shape),
                n_classes=shape.n_classes,
                n_samples=shape.n_samples,
                params=dict(info.defaults),
            )
        )
    return out


def _item(row: Dataset, keys: Mapping[int | None, str]) -> dict[str, Any]:
    """The fields of an uploaded version that lists show."""
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "sha256": row.sha256,
        "bytes": row.bytes,
        "format": row.format,
        "label": row.label or None,
        "input_shape": row.input_shape,
        "n_classes": len(row.class_names),
        "n_examples": row.n_examples,
        "created_at": row.created_at,
        "created_by_key": keys.get(row.created_by_key_id),
    }


def _detail(session: Session, project_id: int, dataset_id: int) -> DatasetRead:
    """One version in full, with every version of its name; 404 if the project has none."""
    row = store.get_dataset(session=session, project_id=project_id, dataset_id=dataset_id)
    if row is None:
        raise not_found(("path", "dataset_id"), f"dataset {dataset_id} not found")
    test = row.test_class_counts
    splits = SplitsRead(
        train=SplitRead(examples=sum(row.class_counts), class_counts=row.class_counts),
        test=SplitRead(examples=sum(test), class_counts=test) if test is not None else None,
    )
    versions = store.list_dataset_versions(session=session, project_id=project_id, name=row.name)
    keys = public_key_ids(session=session, row_ids=[row.created_by_key_id])
    return DatasetRead(
        **_item(row, keys),
        class_names=row.class_names,
        splits=splits,
        versions=[DatasetVersionRead.model_validate(v) for v in versions],
    )


@router.get("", response_model=DatasetListRead)
def list_datasets(
    session: SessionDep, project_id: ProjectDep, limit: Limit = 50, cursor: Cursor = None
) -> DatasetListRead:
    """The built-in datasets, and a page of the project's uploaded versions, newest first."""
    page = store.list_datasets(session=session, project_id=project_id, limit=limit, cursor=cursor)
    keys = public_key_ids(session=session, row_ids=[row.created_by_key_id for row in page.items])
    return DatasetListRead(
        builtin=builtin_datasets(),
        items=[UploadedDatasetRead(**_item(row, keys)) for row in page.items],
        total=page.total,
        next_cursor=page.next_cursor,
    )


@router.get("/{dataset_id}", response_model=DatasetRead, responses=NOT_FOUND)
def get_dataset(dataset_id: DatasetId, session: SessionDep, project_id: ProjectDep) -> DatasetRead:
    """One uploaded version: hash, size, input shape, classes, splits and its name's versions."""
    return _detail(session, project_id, dataset_id)


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **NOT_FOUND,
        **conflict_response("Queued or running runs train on this version (listed)."),
    },
)
def delete_dataset(
    dataset_id: DatasetId, sessions: SessionmakerDep, project_id: ProjectDep, blobs: BlobStoreDep
) -> Response:
    """Delete an uploaded version (and its file, unless another version or artifact shares it);
    409 while queued or running runs train on it."""
    services.delete_dataset(sessions, project_id=project_id, dataset_id=dataset_id, blobs=blobs)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
