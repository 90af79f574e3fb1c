"""The experiments page and an experiment's page, rendered on the server: status counts and
paging, the report with intervals, the trade-off figure, Optuna's figures, sortable runs and
the cancel button."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy import stats
from sqlalchemy.orm import sessionmaker

from api.ui import tables
from tests.api.conftest import client_on
from tests.api.ui.pages import embedded_figure, finish
from tests.factories import spec_dict

GRID = {
    "name": "dropout-grid",
    "spec": spec_dict(),
    "search": {
        "space": {"regularization.dropout": [0.0, 0.5]},
        "seeds": [0, 1],
        "objective": {"metric": "test_acc"},
    },
}
# test_acc by (dropout, seed)
TEST_ACC = {(0.0, 0): 0.8, (0.0, 1): 0.9, (0.5, 0): 0.7, (0.5, 1): 0.72}


def run_links(html: str) -> list[int]:
    """The run ids of the runs table, top to bottom."""
    body = html.split('<table class="runs">', 1)[1]
    return [int(i) for i in re.findall(r'<td class="num"><a href="/ui/runs/(\d+)">', body)]


@pytest.fixture
def search_client(fresh_sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """The app on a fresh database, so the search's transactions and Optuna commit for real."""
    with client_on(fresh_sessions) as client:
        yield client


@pytest.fixture
def finished_grid(search_client: TestClient, fresh_sessions: sessionmaker[Any]) -> int:
    """A two-setting grid with two seeds each, every run finished with TEST_ACC."""
    created = search_client.post("/experiments", json=GRID)
    assert created.status_code == 202, created.text
    for listed in created.json()["runs"]:
        run = search_client.get(f"/runs/{listed['id']}").json()
        acc = TEST_ACC[run["spec"]["regularization"]["dropout"], run["seed"]]
        finish(fresh_sessions, run["id"], {"test_acc": acc, "generalization_gap": 1 - acc}, acc)
    return int(created.json()["id"])


def test_the_list_counts_statuses_and_pages_by_cursor(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("first", "second", "third"):
        assert client.post("/experiments", json={"name": name, "spec": spec_dict()}).is_success
    monkeypatch.setattr(tables, "PAGE_SIZE", 2)
    page = client.get("/ui/experiments")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "third" in page.text and "second" in page.text and "first" not in page.text
    assert "queued 1" in page.text
    next_link = re.search(r'<a class="next" href="([^"]+)"', page.text)
    assert next_link is not None
    rest = client.get(next_link.group(1).replace("&amp;", "&"))
    assert "first" in rest.text and "third" not in rest.text and 'class="next"' not in rest.text


def test_a_single_run_has_its_link_and_a_cancel_button_until_cancelled(
    client: TestClient,
) -> None:
    created = client.post("/experiments", json={"name": "one", "spec": spec_dict()}).json()
    experiment_id, run_id = created["id"], created["runs"][0]["id"]
    page = client.get(f"/ui/experiments/{experiment_id}").text
    assert f'href="/ui/runs/{run_id}"' in page
    assert f'data-url="/experiments/{experiment_id}/cancel"' in page
    assert "<h2>Report" not in page  # nothing is swept
    assert client.post(f"/experiments/{experiment_id}/cancel").is_success
    page = client.get(f"/ui/experiments/{experiment_id}").text
    assert "cancel-experiment" not in page and "cancelled 1" in page


def test_the_tradeoff_plots_seed_means_with_their_intervals(
    search_client: TestClient, finished_grid: int
) -> None:
    page = search_client.get(f"/ui/experiments/{finished_grid}")
    assert page.status_code == 200
    figure = embedded_figure(page.text, "tradeoff")
    [trace] = figure["data"]
    half = stats.t.ppf(0.975, 1) * 0.1 / 2  # sd of (0.8, 0.9) is 0.1 / sqrt(2); over sqrt(2)
    assert trace["x"] == [0.0, 0.5] and trace["y"] == pytest.approx([0.85, 0.71])
    assert trace["error_y"]["array"][0] == pytest.approx(half)
    assert trace["error_y"]["arrayminus"][0] == pytest.approx(half)
    assert figure["layout"]["xaxis"]["title"]["text"] == "regularization.dropout"
    gap = search_client.get(f"/ui/experiments/{finished_grid}", params={"y": "generalization_gap"})
    assert embedded_figure(gap.text, "tradeoff")["data"][0]["y"] == pytest.approx([0.15, 0.29])
    unknown = search_client.get(f"/ui/experiments/{finished_grid}", params={"x": "model.hidden"})
    assert "&#39;model.hidden&#39; is not a swept field" in unknown.text


def test_a_search_shows_optunas_figures_with_spec_values(
    search_client: TestClient, finished_grid: int
) -> None:
    page = search_client.get(f"/ui/experiments/{finished_grid}").text
    url = f"/ui/experiments/{finished_grid}/search-figures"
    assert f'data-url="{url}"' in page  # fetched by the page once it has loaded
    figures = search_client.get(url).json()
    lines = [t for t in figures["parallel"]["data"] if "customdata" in t]
    # Each trial's line, hovered: its objective and its dropout (the value, not its index).
    assert sorted(tuple(value for _, value in t["customdata"]) for t in lines) == [
        ("0.7", "0.5"),
        ("0.72", "0.5"),
        ("0.8", "0.0"),
        ("0.9", "0.0"),
    ]
    importances = figures["importances"]["data"][0]
    assert (importances["y"], importances["x"]) == (["regularization.dropout"], [1.0])
    history = figures["history"]["data"][0]
    assert history["name"] == "test_acc" and sorted(history["y"]) == [0.7, 0.72, 0.8, 0.9]


def test_no_figures_for_a_single_run_or_a_search_before_two_trials_finish(
    search_client: TestClient,
) -> None:
    one = search_client.post("/experiments", json={"name": "one", "spec": spec_dict()}).json()
    grid = search_client.post("/experiments", json=GRID).json()
    for experiment in (one, grid):
        url = f"/ui/experiments/{experiment['id']}/search-figures"
        assert search_client.get(url).json() == {}
    assert "search-figures" not in search_client.get(f"/ui/experiments/{one['id']}").text


def test_runs_sort_by_a_summary_value_and_a_bad_order_is_shown(
    search_client: TestClient, finished_grid: int
) -> None:
    url = f"/ui/experiments/{finished_grid}"
    ordered = search_client.get(url, params={"order_by": "summary.test_acc desc"}).text
    runs = {
        run["id"]: run for run in search_client.get(f"/experiments/{finished_grid}").json()["runs"]
    }
    shown = [runs[i]["objective_value"] for i in run_links(ordered)]
    assert shown == [0.9, 0.8, 0.72, 0.7]
    assert f'href="{url}?order_by=summary.test_acc+asc"' in ordered  # the heading flips it
    bad = search_client.get(url, params={"order_by": "summary.test_acc sideways"})
    assert bad.status_code == 200
    assert "order: &#39;sideways&#39; is neither asc nor desc" in bad.text
    assert 'data-position="17"' in bad.text and "<mark>s</mark>" in bad.text
