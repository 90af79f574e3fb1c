"""Keyset pagination: newest first, with a total so nothing is capped silently."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows, the total matching, and the cursor of the next page (None at the end)."""

    items: list[T]
    total: int
    next_cursor: int | None


def paginate(
    query: Select[T],
    *,
    session: Session,
    id_column: InstrumentedAttribute[int],
    limit: int,
    cursor: int | None,
) -> Page[T]:
    """Run `query` newest first from `cursor` (an id, exclusive) and count all its matches."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page_query: Select[Any] = query.order_by(id_column.desc()).limit(limit + 1)
    if cursor is not None:
        page_query = page_query.where(id_column < cursor)
    rows = list(session.scalars(page_query))
    more = len(rows) > limit
    items = rows[:limit]
    next_cursor = getattr(items[-1], "id", None) if more and items else None
    return Page(items=items, total=total or 0, next_cursor=next_cursor)
