"""`Idempotency-Key` on POST /experiments: a retried request gets the original experiment."""

from typing import Annotated

from fastapi import Header
from pydantic import BaseModel

from models.fingerprint import fingerprint

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Any unique string (e.g. a UUID). Sending the same key with the same body "
        "again returns the experiment the first request created instead of a new one; the "
        "same key with another body is a 409.",
    ),
]


def request_fingerprint(body: BaseModel) -> str:
    """A hash of the request as validated (defaults filled, key order irrelevant)."""
    return fingerprint(body.model_dump(mode="json"))
