"""The runs page: the filter language in a text box, an order, pages; a filter that does not
parse is shown with its message and its position marked, and nothing is listed."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.ui import tables
from tests.api.ui.pages import finish
from tests.factories import spec_dict

DROPOUT_ACC = {0.0: 0.9, 0.2: 0.8, 0.4: 0.7, 0.6: 0.6}


@pytest.fixture
def runs(client: TestClient, sessions: sessionmaker[Any]) -> dict[float, int]:
    """A finished run per dropout, test_acc falling as dropout grows: run id by dropout."""
    ids = {}
    for dropout, acc in DROPOUT_ACC.items():
        body = {"name": f"p{dropout}", "spec": spec_dict(regularization={"dropout": dropout})}
        ids[dropout] = client.post("/experiments", json=body).json()["runs"][0]["id"]
        finish(sessions, ids[dropout], {"test_acc": acc})
    return ids


def listed(html: str) -> list[int]:
    """The run ids of the runs table, top to bottom."""
    return [int(i) for i in re.findall(r'<td class="num"><a href="/ui/runs/(\d+)">', html)]


def test_a_filter_and_an_order_choose_and_sort_the_runs(
    client: TestClient, runs: dict[float, int]
) -> None:
    params = {"filter": "spec.regularization.dropout >= 0.2", "order_by": "summary.test_acc"}
    page = client.get("/ui/runs", params=params)
    assert page.status_code == 200
    assert listed(page.text) == [runs[0.6], runs[0.4], runs[0.2]]
    assert ">spec.regularization.dropout &gt;= 0.2</textarea>" in page.text  # kept in its box
    assert "3 runs" in page.text
    everything = client.get("/ui/runs")
    assert listed(everything.text) == sorted(runs.values(), reverse=True)  # newest first


def test_pages_keep_the_filter_and_the_order(
    client: TestClient, runs: dict[float, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "PAGE_SIZE", 2)
    params = {"filter": "status = 'succeeded'", "order_by": "summary.test_acc desc"}
    first = client.get("/ui/runs", params=params).text
    assert listed(first) == [runs[0.0], runs[0.2]]
    found = re.search(r'<a class="next" href="([^"]+)"', first)
    assert found is not None
    second = client.get(found.group(1).replace("&amp;", "&")).text
    assert listed(second) == [runs[0.4], runs[0.6]] and 'class="next"' not in second


@pytest.mark.parametrize(
    ("typed", "position"),
    [
        ({"filter": "summary.test_acc > 0.5 and and status = 'x'"}, 27),
        ({"filter": "summary.nothing > 1"}, 0),
        ({"filter": "status = "}, 9),
        ({"order_by": "summary.test_acc upwards"}, 17),
    ],
)
def test_a_bad_filter_or_order_is_shown_with_its_position(
    client: TestClient, runs: dict[float, int], typed: dict[str, str], position: int
) -> None:
    page = client.get("/ui/runs", params=typed)
    assert page.status_code == 200
    [(box, text)] = typed.items()
    assert f'data-box="{box}" data-position="{position}"' in page.text
    marked = text[position : position + 1] or " "
    assert f"<mark>{marked}</mark>" in page.text
    assert f"(at position {position})" in page.text
    assert '<table class="runs">' not in page.text  # nothing is listed for it


def test_the_json_route_agrees_on_the_position(client: TestClient) -> None:
    text = "summary.test_acc > 0.5 and and status = 'x'"
    answer = client.get("/runs", params={"filter": text})
    assert answer.status_code == 422
    position = answer.json()["detail"][0]["ctx"]["position"]
    page = client.get("/ui/runs", params={"filter": text}).text
    assert f'data-position="{position}"' in page
