"""The run and compare pages in a real headless Chromium against a real stack (API, torch
worker, embedded store and broker): the run page's curves gain points from the event stream
while the worker trains, cancel works from it, and the compare page draws seed groups; each
page with no console error and no request outside reglab's origin."""

from typing import Any

import pytest
from playwright.sync_api import Browser, Error, Page, expect

from tests.integration.browser import Stack, screenshot, signed_in_page
from tests.integration.stack import poll, submit, wait_terminal

pytestmark = pytest.mark.integration
EPOCHS = 12
# A few tenths of a second per epoch on two cores: slow enough to be seen growing.
GROWING = {
    "name": "growing",
    "spec": {
        "dataset": {"name": "classification", "n_samples": 6000},
        "model": {"hidden": [64]},
        "training": {"epochs": EPOCHS, "batch_size": 32},
    },
}
LONG = {"name": "long", "spec": {"dataset": {"name": "moons"}, "training": {"epochs": 1000}}}
SEEDS = {
    "name": "dropout-seeds",
    "spec": {"dataset": {"name": "moons", "n_samples": 300}, "training": {"epochs": 4}},
    "search": {"space": {"regularization.dropout": [0.0, 0.3]}, "seeds": [0, 1, 2]},
}
POINTS = "document.getElementById('plot-loss').data[0].x.length"


def points_seen(page: Page) -> tuple[float, int] | None:
    """(which load of the page, points in its first loss curve); None while it (re)loads."""
    try:
        origin, points = page.evaluate(f"[performance.timeOrigin, {POINTS}]")
    except Error:  # the page reloading once the run has ended
        return None
    return float(origin), int(points)


def test_the_run_pages_curve_grows_while_a_worker_trains(browser: Browser, ui_stack: Stack) -> None:
    run_id = submit(ui_stack.api, GROWING)
    with signed_in_page(browser, ui_stack) as page:
        page.goto(f"/ui/runs/{run_id}")
        seen: list[tuple[float, int]] = []

        def ended() -> bool | None:
            if (found := points_seen(page)) is not None:
                seen.append(found)
            if len(seen) > 1 and seen[-1][1] not in (seen[-2][1], EPOCHS):
                screenshot(page, "run_growing")  # the latest one taken mid-training stays
            return page.locator("#status").inner_text() == "succeeded" or None

        poll(ended, timeout=180, interval=0.2)
        first_load = [points for origin, points in seen if origin == seen[0][0]]
        # Points came in while the page stayed loaded: from the stream, not from a reload.
        grown = sorted(set(first_load))
        assert len(grown) >= 3 and first_load == sorted(first_load), seen
        # The page reloads at the end (the status may show before): the summary, all epochs.
        expect(page.locator("table.summary")).to_contain_text("test_acc")
        final = points_seen(page)
        assert final is not None and final[1] == EPOCHS, (final, seen)
        assert page.locator("ul.artifacts a").count() >= 1
        screenshot(page, "run_succeeded")
    assert wait_terminal(ui_stack.api, run_id, timeout=30)["epochs_done"] == EPOCHS


def test_cancel_from_the_run_page(browser: Browser, ui_stack: Stack) -> None:
    run_id = submit(ui_stack.api, LONG)
    with signed_in_page(browser, ui_stack) as page:
        page.goto(f"/ui/runs/{run_id}")
        expect(page.locator("#status")).to_have_text("running", timeout=60_000)
        poll(lambda: (points_seen(page) or (0, 0))[1] >= 2 or None, timeout=60)
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#cancel-run")
        expect(page.locator("#status")).to_have_text("cancelled")
        # The stream's end reloads the page: the run as it ended, nothing left to cancel.
        expect(page.locator("#run[data-live=false]")).to_have_count(1)
        expect(page.locator("#cancel-run")).to_have_count(0)
        screenshot(page, "run_cancelled")
    assert wait_terminal(ui_stack.api, run_id, timeout=30)["status"] == "cancelled"


def finished(ui_stack: Stack, body: dict[str, Any]) -> list[int]:
    """The run ids of an experiment, once every run of it has succeeded."""
    response = ui_stack.api.post("/experiments", json=body)
    assert response.status_code == 202, response.text

    def done() -> list[int] | None:
        read = ui_stack.api.get(response.headers["location"]).json()
        runs = read["runs"]
        return [r["id"] for r in runs] if read["progress"]["succeeded"] == len(runs) else None

    return poll(done, timeout=180, interval=0.5)


def test_the_compare_page_draws_seed_groups(browser: Browser, ui_stack: Stack) -> None:
    run_ids = finished(ui_stack, SEEDS)
    assert len(run_ids) == 6
    with signed_in_page(browser, ui_stack) as page:
        page.goto(f"/ui/compare?run_ids={','.join(map(str, run_ids))}&metric=val_acc")
        page.wait_for_function("document.getElementById('compare').data")
        names = page.evaluate("document.getElementById('compare').data.map(t => t.name)")
        groups = {name for name in names if name.endswith("(3 seeds)")}
        assert groups == {
            "dropout=0.0 (3 seeds)",
            "dropout=0.3 (3 seeds)",
        }
        assert page.locator("table.deviations tbody tr").count() == 3
        screenshot(page, "compare_seed_groups")
        page.select_option("select[name=group_seeds]", "false")
        page.click("form.compare button")
        page.wait_for_url("**group_seeds=false**")
        page.wait_for_function("document.getElementById('compare').data")
        assert page.evaluate("document.getElementById('compare').data.length") == 6
        screenshot(page, "compare_runs")
