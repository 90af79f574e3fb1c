"""Lists follow `next_cursor` to the last page, lazily; `total` counts every match."""

from itertools import islice

import httpx

from tests.client.mock import mocked

PAGES = {
    None: {"items": [{"id": 5}, {"id": 4}], "total": 5, "next_cursor": "c1"},
    "c1": {"items": [{"id": 3}, {"id": 2}], "total": 5, "next_cursor": "c2"},
    "c2": {"items": [{"id": 1}], "total": 5, "next_cursor": None},
}


def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=PAGES[request.url.params.get("cursor")])


def test_every_page_is_read_in_turn_with_the_filter_on_each() -> None:
    client, api = mocked(answer)
    pager = client.runs.list(filter="status = 'succeeded'", order_by="id desc", page_size=2)
    assert pager.total is None  # nothing is read before the iteration
    assert [run["id"] for run in pager] == [5, 4, 3, 2, 1]
    assert pager.total == 5
    params = [dict(request.url.params) for request in api.requests]
    assert params[0] == {"filter": "status = 'succeeded'", "order_by": "id desc", "limit": "2"}
    assert [p.get("cursor") for p in params] == [None, "c1", "c2"]
    assert all(p["filter"] == "status = 'succeeded'" for p in params)


def test_taking_the_first_items_reads_only_the_pages_they_are_on() -> None:
    client, api = mocked(answer)
    assert [e["id"] for e in islice(client.experiments.list(page_size=2), 3)] == [5, 4, 3]
    assert len(api.requests) == 2
