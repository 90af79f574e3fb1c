"""Lists that span pages: an iterator that follows `next_cursor`, so nothing is cut off."""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from reglab_client.types import Page

T = TypeVar("T")


class Pager(Generic[T]):
    """Every item of a list, fetched a page at a time as the iteration reaches it.

    `total` (every match, across pages) is known once the first page has been read.
    """

    def __init__(self, fetch: Callable[[str | None], Page[T]]) -> None:
        self._fetch = fetch
        self.total: int | None = None

    def __iter__(self) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = self._fetch(cursor)
            self.total = page["total"]
            yield from page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return
