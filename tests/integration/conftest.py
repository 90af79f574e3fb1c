"""Fixtures of the integration tests."""

from collections.abc import Iterator

import pytest
import redis
from playwright.sync_api import Browser

from tests.conftest import REDIS_URL, unavailable
from tests.integration.browser import Stack, browser_stack, chromium


@pytest.fixture
def redis_url() -> str:
    """An emptied Redis database for this test."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.RedisError:
        unavailable(f"Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One API and torch worker on an embedded store, for a module's browser tests."""
    with browser_stack(tmp_path_factory.mktemp("browser"), worker=True) as started:
        yield started
