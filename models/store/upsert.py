"""Insert-or-update on both dialects, so that replayed writes stay idempotent."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.db import Base


def upsert(
    *, session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert `rows`; where the `keys` already exist, overwrite the value."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(list(rows))
    updated = {c: insert.excluded[c] for c in rows[0] if c not in keys}
    session.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=updated))
