"""The experiments, experiment and runs pages in a real headless Chromium against a real
stack (API, torch worker, embedded store and broker): each renders with no console error and
no request outside reglab's origin; a bad filter shows its position; cancel works."""

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.browser import (
    Stack,
    screenshot,
    signed_in_page,
)
from tests.integration.stack import poll, submit, wait_terminal

pytestmark = pytest.mark.integration
MOONS = {"name": "moons", "n_samples": 600}
GRID_NAME = "dropout-l2-grid"
GRID = {
    "name": GRID_NAME,
    "spec": {"dataset": MOONS, "model": {"hidden": [8]}, "training": {"epochs": 5}},
    "search": {
        "space": {"regularization.dropout": [0.0, 0.3], "regularization.l2": [0.0, 0.001]},
        "seeds": [0, 1],
        "max_parallel": 4,
    },
}
# Long enough to be cancelled while it trains.
LONG = {"name": "long", "spec": {"dataset": MOONS, "training": {"epochs": 1000}}}


@pytest.fixture(scope="module")
def grid(ui_stack: Stack) -> dict[str, Any]:
    """A finished 2 x 2 grid with two seeds: 8 runs."""
    response = ui_stack.api.post("/experiments", json=GRID)
    assert response.status_code == 202, response.text

    def finished() -> dict[str, Any] | None:
        read: dict[str, Any] = ui_stack.api.get(response.headers["location"]).json()
        return read if read["progress"]["succeeded"] == 8 else None

    return poll(finished, timeout=240, interval=0.5)


def figure_traces(page: Page, figure_id: str) -> int:
    """How many traces plotly drew in the figure `figure_id`."""
    return int(page.evaluate(f"document.getElementById('{figure_id}').data.length"))


def test_the_experiment_pages_show_the_search(
    browser: Browser, ui_stack: Stack, grid: dict[str, Any]
) -> None:
    with signed_in_page(browser, ui_stack) as page:
        expect(page.locator("table.experiments")).to_contain_text(GRID_NAME)
        screenshot(page, "experiments")
        page.click(f"a[href='/ui/experiments/{grid['id']}']")
        expect(page.locator("h1")).to_contain_text(GRID_NAME)
        for figure_id in ("tradeoff", "parallel", "importances", "history"):
            page.wait_for_function(f"document.getElementById('{figure_id}').data")
            assert figure_traces(page, figure_id) >= 1
        assert page.locator("table.report tbody tr").count() == 4
        assert page.locator("table.runs tbody tr").count() == 8
        screenshot(page, "experiment_search")
        # "Compare selected" goes to the compare page with the picked runs (answered here:
        # that page is another test's subject).
        page.route("**/ui/compare?*", lambda route: route.fulfill(body="compare", status=200))
        picks = page.locator("table.runs input.pick")
        picks.nth(0).check()
        picks.nth(2).check()
        chosen = [picks.nth(i).get_attribute("value") for i in (0, 2)]
        page.click("form.compare button")
        page.wait_for_url(f"**/ui/compare?run_ids={','.join(map(str, chosen))}")
        page.go_back()
        page.select_option("select[name=y]", "generalization_gap")
        page.click("form.tradeoff button")
        page.wait_for_url("**y=generalization_gap**")
        screenshot(page, "experiment_tradeoff_gap")


def test_a_bad_filter_shows_its_position(
    browser: Browser, ui_stack: Stack, grid: dict[str, Any]
) -> None:
    with signed_in_page(browser, ui_stack) as page:
        page.goto("/ui/runs")
        page.fill("#filter", "spec.regularization.dropout = 0.3 and status = 'succeeded'")
        page.fill("#order_by", "summary.test_acc desc")
        page.click("form.filter button")
        expect(page.locator("table.runs tbody tr")).to_have_count(4)
        shown = page.locator("table.runs td[data-key=test_acc]").all_inner_texts()
        assert shown == sorted(shown, key=float, reverse=True)
        screenshot(page, "runs_filtered")
        bad = "summary.test_acc > 0.5 and and status = 'succeeded'"
        page.fill("#filter", bad)
        page.click("form.filter button")
        problem = page.locator(".typed-error")
        expect(problem).to_be_visible()
        position = int(problem.get_attribute("data-position") or -1)
        assert position == bad.index("and status")
        assert problem.locator("mark").inner_text() == bad[position]
        selection = page.evaluate("[filter.selectionStart, filter.selectionEnd]")
        assert selection == [position, position + 1]
        screenshot(page, "runs_bad_filter")


def test_cancel_from_the_experiment_page(
    browser: Browser, ui_stack: Stack, grid: dict[str, Any]
) -> None:
    run_id = submit(ui_stack.api, LONG)
    experiment_id = ui_stack.api.get(f"/runs/{run_id}").json()["experiment_id"]
    poll(
        lambda: ui_stack.api.get(f"/runs/{run_id}").json()["status"] == "running" or None,
        timeout=60,
    )
    with signed_in_page(browser, ui_stack) as page:
        page.goto(f"/ui/experiments/{experiment_id}")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#cancel-experiment")
        expect(page.locator("p.facts")).to_contain_text("cancelled")
        screenshot(page, "experiment_cancelled")
    assert wait_terminal(ui_stack.api, run_id, timeout=30)["status"] == "cancelled"
