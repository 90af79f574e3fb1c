"""The error an upload is answered with, and where in the request it points."""

from typing import Literal

Loc = tuple[str | int, ...]
Format = Literal["npz", "csv", "parquet", "image_zip"]
FORMATS: tuple[Format, ...] = ("npz", "csv", "parquet", "image_zip")

BODY: Loc = ("body",)
LABEL: Loc = ("query", "label")
FORMAT: Loc = ("query", "format")


class IngestError(ValueError):
    """An uploaded file that cannot be a dataset; `loc` names the request part, `kind` the 4xx.

    `kind` is "too_large" for a file past the byte bound (a 413), "value_error" otherwise (422).
    """

    def __init__(self, loc: Loc, message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.kind = kind


def body_error(message: str) -> IngestError:
    """An error in the file's content."""
    return IngestError(BODY, message)
