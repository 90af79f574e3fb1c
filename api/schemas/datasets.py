"""Bodies of the dataset routes: the built-in catalog and the uploaded versions."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import KEY_ID_EXAMPLE, key_field
from models.ingest import Format

SHA256_EXAMPLE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
CREATED_EXAMPLE = "2026-12-03T09:30:00Z"


class BuiltinDatasetRead(BaseModel):
    """A built-in dataset with its default parameters and resulting shape."""

    name: str = Field(description="Use as `spec.dataset.name`.", examples=["digits"])
    description: str = Field(
        description="What the data is and what `noise` means for it.",
        examples=["Two interleaving half circles in 2-D; `noise` is the Gaussian ..."],
    )
    input_shape: list[int] = Field(
        description="Shape of one example with default parameters.", examples=[[8, 8]]
    )
    n_classes: int = Field(description="Number of classes with default parameters.", examples=[10])
    n_samples: int = Field(
        description="Samples before the split, with default parameters.", examples=[1797]
    )
    params: dict[str, float] = Field(
        description="Parameters a spec may set, with defaults.",
        examples=[{"n_samples": 1000, "noise": 0.2}],
    )


class DatasetVersionRead(BaseModel):
    """One version of an uploaded dataset's name."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The version's id (`GET /datasets/{id}`).", examples=[7])
    version: int = Field(
        description="Its number: 1 for the first upload of the name.", examples=[2]
    )
    sha256: str = Field(description="The sha256 of its file.", examples=[SHA256_EXAMPLE])
    created_at: datetime = Field(
        description="When it was uploaded (UTC).", examples=[CREATED_EXAMPLE]
    )


class UploadedDatasetRead(BaseModel):
    """One uploaded version of a dataset: its file and what validation found in it."""

    id: int = Field(description="The version's id, as in `Location: /datasets/{id}`.", examples=[7])
    name: str = Field(
        description="Use as `spec.dataset.name` (with `version` to fix one).", examples=["iris"]
    )
    version: int = Field(
        description="1 for the first upload of the name, then one more for each new content; "
        "a deleted version's number is never given again.",
        examples=[2],
    )
    sha256: str = Field(description="The sha256 of the file: its address in the blob store.",
                        examples=[SHA256_EXAMPLE])  # fmt: skip
    bytes: int = Field(description="Size of the file in bytes.", examples=[4551])
    format: Format = Field(description="How the file is read.", examples=["csv"])
    label: str | None = Field(
        description="The label column of a CSV or Parquet file; null for NPZ and image_zip.",
        examples=["species"],
    )
    input_shape: list[int] = Field(
        description="Shape of one example: (features,) for a table, (height, width) or "
        "(channels, height, width) for images, x's trailing shape for an NPZ.",
        examples=[[4]],
    )
    n_classes: int = Field(description="Distinct labels.", examples=[3])
    n_examples: int = Field(
        description="Examples in the file, the explicit test split included.", examples=[150]
    )
    created_at: datetime = Field(
        description="When it was uploaded (UTC).", examples=[CREATED_EXAMPLE]
    )
    created_by_key: str | None = key_field("uploaded")


class SplitRead(BaseModel):
    """The examples of one part of an uploaded file."""

    examples: int = Field(description="Examples in this part.", examples=[120])
    class_counts: list[int] = Field(
        description="Examples per class, in `class_names` order.", examples=[[40, 40, 40]]
    )


class SplitsRead(BaseModel):
    """How an upload's examples divide: training data, and an explicit test split if given."""

    train: SplitRead = Field(
        description="`x`/`y` of an NPZ, every row or image otherwise: a run splits its "
        "validation set (and, without an explicit test split, its test set) from these "
        "by `spec.dataset.val_fraction` and `test_fraction`.",
        examples=[{"examples": 120, "class_counts": [40, 40, 40]}],
    )
    test: SplitRead | None = Field(
        description="An NPZ's `x_test`/`y_test`, used as the test set as given; null if the "
        "file has none.",
        examples=[None],
    )


class DatasetRead(UploadedDatasetRead):
    """An uploaded dataset version in full: classes, splits, and every version of its name."""

    class_names: list[str] = Field(
        description="The classes, sorted (integer labels by value); labels 0..k-1 in this order.",
        examples=[["setosa", "versicolor", "virginica"]],
    )
    splits: SplitsRead = Field(
        description="Examples and class counts of each part of the file.",
        examples=[{"train": {"examples": 120, "class_counts": [40, 40, 40]}, "test": None}],
    )
    versions: list[DatasetVersionRead] = Field(
        description="Every stored version of this name, oldest first (this one included).",
        examples=[
            [{"id": 7, "version": 1, "sha256": SHA256_EXAMPLE, "created_at": CREATED_EXAMPLE}]
        ],
    )


BUILTIN_EXAMPLE = {
    "name": "moons",
    "description": "Two interleaving half circles in 2-D; `noise` is the Gaussian ...",
    "input_shape": [2],
    "n_classes": 2,
    "n_samples": 1000,
    "params": {"n_samples": 1000, "noise": 0.2},
}
UPLOADED_EXAMPLE = {
    "id": 7,
    "name": "iris",
    "version": 2,
    "sha256": SHA256_EXAMPLE,
    "bytes": 4551,
    "format": "csv",
    "label": "species",
    "input_shape": [4],
    "n_classes": 3,
    "n_examples": 150,
    "created_at": CREATED_EXAMPLE,
    "created_by_key": KEY_ID_EXAMPLE,
}


class DatasetListRead(BaseModel):
    """The datasets a spec may name: every built-in one, and a page of uploaded versions."""

    builtin: list[BuiltinDatasetRead] = Field(
        description="The built-in datasets (all of them, on every page).",
        examples=[[BUILTIN_EXAMPLE]],
    )
    items: list[UploadedDatasetRead] = Field(
        description="This page of the project's uploaded versions, newest first.",
        examples=[[UPLOADED_EXAMPLE]],
    )
    total: int = Field(description="Uploaded versions across all pages.", examples=[12])
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end.", examples=[None]
    )
