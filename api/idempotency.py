"""`Idempotency-Key` on POST /experiments: a retried request gets the original experiment."""

from typing import Annotated

from fastapi import Header, HTTPException, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from models import store
from models.fingerprint import fingerprint
from models.tables import Experiment

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


def earlier_experiment(
    session: Session, project_id: int, key: str, request_fingerprint: str
) -> Experiment | None:
    """The experiment a request with this key created; 409 if its body was different."""
    found = store.find_by_idempotency_key(
        session=session, project_id=project_id, idempotency_key=key
    )
    if found is not None and found.request_fingerprint != request_fingerprint:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Idempotency-Key {key!r} was used for experiment {found.id} with a different body",
        )
    return found
