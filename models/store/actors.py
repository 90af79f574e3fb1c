"""Who did what: the public ids of the API keys that created or changed rows."""

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.store.tables import ApiKey


def public_key_ids(*, session: Session, row_ids: Iterable[int | None]) -> dict[int | None, str]:
    """The public key id (never the secret) of each API key row id given, by row id; a row
    that names no key (None) finds nothing in it.

    One query for a whole page of rows, and none when no row names a key.
    """
    wanted = {row_id for row_id in row_ids if row_id is not None}
    if not wanted:
        return {}
    rows = session.execute(select(ApiKey.id, ApiKey.key_id).where(ApiKey.id.in_(wanted)))
    return {row_id: key_id for row_id, key_id in rows}
