"""What counts as the store being away (retried, a 503) and what is a bug (raised at once)."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from models.store.db import is_outage, make_engine, with_retries


def error_of(url: str, sql: str) -> OperationalError:
    with pytest.raises(OperationalError) as caught, make_engine(url).connect() as connection:
        connection.execute(text(sql))
    return caught.value


def test_an_unreachable_server_is_an_outage() -> None:
    # Nothing listens on port 1: the connect fails as it does while Postgres restarts.
    exc = error_of("postgresql+psycopg://postgres@127.0.0.1:1/x?connect_timeout=2", "SELECT 1")
    assert is_outage(exc)


def test_a_schema_older_than_the_code_is_no_outage(tmp_path: Path) -> None:
    exc = error_of(f"sqlite:///{tmp_path}/s.sqlite", "SELECT missing_column FROM sqlite_master")
    assert not is_outage(exc)
    calls: list[int] = []

    def query() -> None:
        calls.append(1)
        raise exc

    with pytest.raises(OperationalError):
        with_retries(query, seconds=30)
    assert calls == [1]  # raised at once, not retried for 30 s
