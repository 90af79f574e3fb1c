"""Artifacts: the weights and manifest a trained run left in the blob store."""

from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Header, Path, Response
from fastapi.responses import StreamingResponse

from api.blobs import BlobStoreDep
from api.deps import ProjectDep, RunId, SessionDep, SessionmakerDep
from api.errors import not_found, not_found_response
from api.json_body import StrictJsonRoute
from api.schemas import ArtifactRead
from models import store
from models.blobs import BlobNotFoundError
from models.store.artifacts import get_artifact, list_artifacts
from models.store.tables import Artifact

router = APIRouter(prefix="/runs", tags=["artifacts"], route_class=StrictJsonRoute)
CHUNK_BYTES = 2**20  # read from the blob store and sent a MiB at a time
ArtifactName = Annotated[
    str,
    Path(
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The artifact's name, as `GET /runs/{run_id}/artifacts` lists it.",
        examples=["model.safetensors"],
    ),
]
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, streamed: weights as safetensors, the manifest as JSON. "
        "`ETag` is its sha256; `Content-Disposition` names it.",
        "content": {"application/octet-stream": {}, "application/json": {}},
    },
    304: {"description": "`If-None-Match` named this file's ETag: the copy held is current."},
}


def _check_run(session: SessionDep, project_id: int, run_id: int) -> None:
    """404 unless the run is in the caller's project."""
    if store.get_run(session=session, project_id=project_id, run_id=run_id) is None:
        raise not_found(("path", "run_id"), f"run {run_id} not found")


def _read(artifact: Artifact) -> ArtifactRead:
    return ArtifactRead(
        name=artifact.name,
        bytes=artifact.bytes,
        sha256=artifact.sha256,
        media_type=artifact.media_type,
        created_at=artifact.created_at,
        url=f"/runs/{artifact.run_id}/artifacts/{artifact.name}",
    )


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file's bytes a chunk at a time, closing it at the end (or when the client leaves)."""
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@router.get(
    "/{run_id}/artifacts", response_model=list[ArtifactRead], responses=not_found_response("run")
)
def list_run_artifacts(
    run_id: RunId, session: SessionDep, project_id: ProjectDep
) -> list[ArtifactRead]:
    """The files a run left: weights and manifest once it trained (succeeded or pruned)."""
    _check_run(session, project_id, run_id)
    return [_read(a) for a in list_artifacts(session=session, run_id=run_id)]


@router.get(
    "/{run_id}/artifacts/{name}",
    response_class=StreamingResponse,
    responses={**DOWNLOAD, **not_found_response("run or artifact")},
)
def download_artifact(
    run_id: RunId,
    name: ArtifactName,
    sessions: SessionmakerDep,
    project_id: ProjectDep,
    blobs: BlobStoreDep,
    if_none_match: Annotated[
        str | None, Header(description="An ETag held: 304 if the file is unchanged.")
    ] = None,
) -> Response:
    """Download one artifact, streamed from the blob store."""
    # A session of its own, closed before the transfer: a slow download holds no connection.
    with sessions() as session:
        _check_run(session, project_id, run_id)
        artifact = get_artifact(session=session, run_id=run_id, name=name)
    if artifact is None:
        raise not_found(("path", "name"), f"run {run_id} has no artifact {name!r}")
    etag = f'"{artifact.sha256}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    try:
        handle = blobs.open(artifact.sha256)
    except BlobNotFoundError:
        raise not_found(
            ("path", "name"), f"artifact {name!r} of run {run_id} is gone from the blob store"
        ) from None
    headers = {
        "ETag": etag,
        "Content-Length": str(artifact.bytes),
        "Content-Disposition": f'attachment; filename="{artifact.name}"',
    }
    return StreamingResponse(_chunks(handle), media_type=artifact.media_type, headers=headers)
