"""Bodies of the artifact routes."""

from datetime import datetime

from pydantic import BaseModel, Field


class ArtifactRead(BaseModel):
    """One file a run left in the blob store: weights or the manifest."""

    name: str = Field(
        description="`model.safetensors` (final weights), `best.safetensors` (the best "
        "epoch's, with `training.early_stopping.restore_best`) or `model.json` (the manifest: "
        "plan, resolved spec, dataset, class names, input standardization, environment).",
        examples=["model.safetensors"],
    )
    bytes: int = Field(description="Size of the file in bytes.", examples=[23456])
    sha256: str = Field(
        description="sha256 of the file's bytes: its address in the blob store and the "
        "download's ETag.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    media_type: str = Field(
        description="The download's Content-Type: `application/octet-stream` for weights, "
        "`application/json` for the manifest.",
        examples=["application/octet-stream"],
    )
    created_at: datetime = Field(description="When the run stored it, with its end (UTC).")
    url: str = Field(
        description="Where to download it: `GET` this path.",
        examples=["/runs/1/artifacts/model.safetensors"],
    )
