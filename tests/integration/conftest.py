"""Fixtures of the integration tests."""

import pytest
import redis

from tests.conftest import REDIS_URL, unavailable


@pytest.fixture
def redis_url() -> str:
    """An emptied Redis database for this test."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.RedisError:
        unavailable(f"Redis at {REDIS_URL}")
    return REDIS_URL
