"""Keyset pagination with a total, so nothing is capped silently; cursors are opaque strings."""

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.base import ExecutableOption

from models.store.tables import MAX_INT, MIN_INT, UNSTORABLE_TEXT

T = TypeVar("T")
ValueKind = Literal["integer", "number", "text", "bool"]


class Page(BaseModel, Generic[T]):
    """One page of a list; `total` counts every match, so nothing is truncated silently."""

    # The store fills pages with rows; the API with its response schemas.
    model_config = ConfigDict(arbitrary_types_allowed=True)

    items: list[T] = Field(description="This page, newest first unless ordered otherwise.")
    total: int = Field(description="Matches across all pages.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


@dataclass(frozen=True)
class SortKey:
    """Order by this expression (missing values last), then by id in the same direction."""

    expression: ColumnElement[Any]
    descending: bool
    kind: ValueKind = "number"


class CursorError(ValueError):
    """A cursor that this listing did not hand out."""


def encode_cursor(position: list[Any]) -> str:
    """The opaque cursor for a position: [id], or [sort value or null, id]."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _no_constant(name: str) -> NoReturn:
    raise ValueError(name)


def _fits(value: Any, kind: ValueKind) -> bool:
    """Whether a decoded value can be compared with an expression of this kind in SQL."""
    if kind == "bool" or isinstance(value, bool):
        return kind == "bool" and isinstance(value, bool)
    if kind == "text":
        return isinstance(value, str) and not UNSTORABLE_TEXT.search(value)
    if kind == "number" and isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and MIN_INT <= value <= MAX_INT


def decode_cursor(cursor: str, sort_kind: ValueKind | None) -> list[Any]:
    """The position in a cursor: [id], or [sort value or null, id] under a sort of this kind."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # ValueError covers non-ASCII text, bad base64, bad UTF-8, bad JSON and NaN.
        position: object = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise CursorError("cursor: not a cursor from this listing") from None
    expected = [] if sort_kind is None else [sort_kind]
    if (
        not isinstance(position, list)
        or len(position) != len(expected) + 1
        or not _fits(position[-1], "integer")
        or not all(v is None or _fits(v, k) for v, k in zip(position, expected, strict=False))
    ):
        raise CursorError("cursor: not a cursor from this listing (or the order changed)")
    return position


def _after(
    key: ColumnElement[Any],
    id_column: ColumnElement[int],
    descending: bool,
    position: list[Any],
) -> ColumnElement[bool]:
    """Rows that come after `position` = [key value, id] in this order, missing values last."""
    value, last_id = position
    id_after = id_column < last_id if descending else id_column > last_id
    if value is None:
        return and_(key.is_(None), id_after)
    # A bound parameter: SQLAlchemy refuses `<` and `>` against a bare True or False.
    bound = literal(value, key.type)
    key_after = key < bound if descending else key > bound
    return or_(key_after, and_(key == bound, id_after), key.is_(None))


def paginate(
    query: Select[Any],
    *,
    session: Session,
    id_column: InstrumentedAttribute[int],
    limit: int,
    cursor: str | None,
    sort: SortKey | None = None,
    options: Sequence[ExecutableOption] = (),
) -> Page[Any]:
    """One page of `query` (newest first unless `sort` says otherwise) and its total count.

    `options` (loader options) apply to the query that reads the page's rows.
    """
    if sort is not None:
        rows, total = _sorted_page(query, session, id_column, limit, cursor, sort, options)
    else:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        page_query = query.options(*options).order_by(id_column.desc())
        if cursor is not None:
            page_query = page_query.where(id_column < decode_cursor(cursor, None)[0])
        rows = [(item, None) for item in session.scalars(page_query.limit(limit + 1))]
    items = [item for item, _ in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last, value = rows[limit - 1]
        next_cursor = encode_cursor([last.id] if sort is None else [value, last.id])
    return Page(items=items, total=total or 0, next_cursor=next_cursor)


def _order(key: Any, ids: Any, descending: bool) -> tuple[Any, Any]:
    """By the key, missing values last, then by id, both in the sort's direction."""
    if descending:
        return key.desc().nulls_last(), ids.desc()
    return key.asc().nulls_last(), ids.asc()


def _sorted_page(
    query: Select[Any],
    session: Session,
    id_column: InstrumentedAttribute[int],
    limit: int,
    cursor: str | None,
    sort: SortKey,
    options: Sequence[ExecutableOption],
) -> tuple[list[tuple[Any, Any]], int | None]:
    """A sorted page and the total in one pass over the matches.

    A sort reads every match anyway, to order them: their ids and sort values are gathered
    once, counted, and ordered, and only the page's rows are read whole.
    """
    matches = query.with_only_columns(id_column.label("id"), sort.expression.label("key")).cte(
        "matches"
    )
    every = select(func.count()).select_from(matches)
    chosen = select(matches).order_by(*_order(matches.c.key, matches.c.id, sort.descending))
    if cursor is not None:
        position = decode_cursor(cursor, sort.kind)
        chosen = chosen.where(_after(matches.c.key, matches.c.id, sort.descending, position))
    page = chosen.limit(limit + 1).subquery("page")
    page_query = (
        select(id_column.class_, page.c.key, every.scalar_subquery())
        .options(*options)
        .join(page, id_column == page.c.id)
        .order_by(*_order(page.c.key, page.c.id, sort.descending))
    )
    rows = session.execute(page_query).all()
    # Past the last page no row brings the total along.
    total = rows[0][2] if rows else session.scalar(every)
    return [(row[0], row[1]) for row in rows], total
