"""The embedded defaults: what the service creates under its home is its owner's alone."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from models.settings import Settings
from models.store.db import make_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask (022), under which plain creation would be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
def test_home_store_and_broker_are_owner_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "deep" / "home")
    engine = make_engine(settings.resolved_database_url())
    broker = Path(str(settings.broker_transport_options()["data_folder_in"]))
    store = settings.home / "reglab.sqlite"
    with engine.begin() as connection:  # WAL mode: the write creates -wal and -shm
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        files = [store, store.with_name("reglab.sqlite-wal"), store.with_name("reglab.sqlite-shm")]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    engine.dispose()
    folders = [tmp_path / "deep", settings.home, broker]
    assert {str(f): mode(f) for f in folders} == {str(f): 0o700 for f in folders}


@pytest.mark.usefixtures("usual_umask")
def test_a_world_readable_store_from_before_is_tightened(tmp_path: Path) -> None:
    store = tmp_path / "old.sqlite"
    store.touch(mode=0o644)
    make_engine(f"sqlite:///{store}").dispose()
    assert mode(store) == 0o600
