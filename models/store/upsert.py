"""Insert-or-update on both dialects, so that replayed writes stay idempotent."""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.store.db import Base


@lru_cache(maxsize=32)
def _statement(
    dialect: str, table: type[Base], keys: tuple[str, ...], columns: tuple[str, ...]
) -> Executable:
    # Built once per shape: constructing the statement costs more than executing it.
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    updated = {c: insert.excluded[c] for c in columns if c not in keys}
    statement: Executable = insert.on_conflict_do_update(index_elements=list(keys), set_=updated)
    return statement


def upsert(
    *, session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert `rows` (one executemany); where the `keys` already exist, overwrite the rest."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = _statement(dialect, table, tuple(keys), tuple(rows[0]))
    session.execute(statement, list(rows))
