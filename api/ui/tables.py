"""What the pages with a runs table share: the filter and order a person typed (a bad one is
shown with its position, not answered as JSON), sort and page links, the summary columns."""

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request

from models.store.run_filter import (
    MAX_FILTER_LENGTH,
    FilterError,
    Node,
    Order,
    parse_filter,
    parse_order,
)

# Summary values a runs table shows, each a sortable column.
SUMMARY_COLUMNS = ("test_acc", "test_loss", "generalization_gap", "best_val_acc", "sparsity")
PAGE_SIZE = 50
FilterText = Annotated[str, Query(max_length=MAX_FILTER_LENGTH)]
OrderText = Annotated[str, Query(max_length=300)]


@dataclass(frozen=True)
class TypedError:
    """A filter or order that does not parse: which box, the message, and where."""

    box: str
    text: str
    message: str
    position: int

    @property
    def before(self) -> str:
        """The text up to the problem."""
        return self.text[: self.position]

    @property
    def at(self) -> str:
        """The character at the problem (a space past the end, so the mark shows)."""
        return self.text[self.position : self.position + 1] or " "

    @property
    def after(self) -> str:
        """The text after the problem."""
        return self.text[self.position + 1 :]


@dataclass(frozen=True)
class Typed:
    """The parsed filter and order (None where empty), or the first error."""

    where: Node | None = None
    order: Order | None = None
    error: TypedError | None = None


def parse_typed(filter_text: str, order_text: str) -> Typed:
    """Parse what was typed in the filter and order boxes, as GET /runs does."""
    try:
        where = parse_filter(filter_text) if filter_text.strip() else None
    except FilterError as exc:
        return Typed(error=TypedError("filter", filter_text, exc.message, exc.position))
    try:
        order = parse_order(order_text) if order_text.strip() else None
    except FilterError as exc:
        return Typed(error=TypedError("order_by", order_text, exc.message, exc.position))
    return Typed(where, order)


def with_params(request: Request, **changes: str | None) -> str:
    """This page's URL with some query parameters changed (None drops one)."""
    params = {k: v for k, v in request.query_params.items() if k not in changes}
    params.update({k: v for k, v in changes.items() if v is not None})
    return f"{request.url.path}?{urlencode(params)}" if params else request.url.path


def sort_url(request: Request, field: str, current: str) -> str:
    """The link of a column heading: sort by `field`, descending first, then flip."""
    direction = "asc" if current.strip() == f"{field} desc" else "desc"
    return with_params(request, order_by=f"{field} {direction}", cursor=None)


def next_url(request: Request, cursor: str | None) -> str | None:
    """The link to the next page, None on the last."""
    return with_params(request, cursor=cursor) if cursor else None


def table_context(
    request: Request, order_by: str, typed: Typed, next_cursor: str | None
) -> dict[str, Any]:
    """What the runs table's template needs besides its rows."""
    return {
        "order_by": order_by.strip(),
        "error": typed.error,
        "columns": SUMMARY_COLUMNS,
        "sort_url": partial(sort_url, request, current=order_by),
        "next_url": next_url(request, next_cursor),
    }
