"""The experiments and runs pages in a real headless Chromium against a real stack: each
renders with no console error and no request outside reglab's origin."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.integration.browser import (
    Stack,
    browser_stack,
    chromium,
    screenshot,
    signed_in_page,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One API on an embedded store for the module."""
    with browser_stack(tmp_path_factory.mktemp("browser")) as started:
        yield started


def test_signing_in_lands_on_the_experiments_page(browser: Browser, stack: Stack) -> None:
    with signed_in_page(browser, stack) as page:
        assert page.locator("h1").inner_text().startswith("Experiments")
        assert Path(screenshot(page, "experiments_empty")).exists()
