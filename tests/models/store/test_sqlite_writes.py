"""Concurrent writes on the embedded store: writers that read first wait their turn, readers never.

Real threads and processes, each with its own engine or connection, on a migrated SQLite file.
"""

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from models import store
from models.store.db import make_engine, make_sessionmaker
from models.store.tables import DEFAULT_PROJECT_ID, Run
from tests.conftest import migrate
from tests.factories import make_spec

WRITERS = 8
TRANSACTIONS = 25


@pytest.fixture
def sqlite_run(tmp_path: Path) -> tuple[str, int]:
    """A fresh migrated SQLite store holding one run: (URL, run id)."""
    url = f"sqlite:///{tmp_path / 'reglab.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        experiment = store.create_experiment(
            session=session, project_id=DEFAULT_PROJECT_ID, name="w", spec=make_spec().model_dump()
        )
        run_id = experiment.runs[0].id
    engine.dispose()
    return url, run_id


def increment(url: str, run_id: int, times: int, start: Any = None) -> int:
    """`times` transactions that each read the run's attempts, then write them plus one."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    if start is not None:
        start.wait()
    for _ in range(times):
        with sessions.begin() as session:
            run = session.get(Run, run_id)
            assert run is not None
            run.attempts += 1
    engine.dispose()
    return times


def attempts(url: str, run_id: int) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        value: int | None = session.scalar(select(Run.attempts).where(Run.id == run_id))
    engine.dispose()
    assert value is not None
    return value


def test_threads_that_read_then_write_all_commit(sqlite_run: tuple[str, int]) -> None:
    url, run_id = sqlite_run
    start = threading.Barrier(WRITERS)
    with ThreadPoolExecutor(WRITERS) as pool:
        futures = [pool.submit(increment, url, run_id, TRANSACTIONS, start) for _ in range(WRITERS)]
        done = [f.result() for f in futures]  # raises "database is locked" if one failed
    assert done == [TRANSACTIONS] * WRITERS
    assert attempts(url, run_id) == WRITERS * TRANSACTIONS  # no update lost either


def test_processes_that_read_then_write_all_commit(sqlite_run: tuple[str, int]) -> None:
    url, run_id = sqlite_run
    context = multiprocessing.get_context("fork")  # each child makes its own engine
    processes = 3
    with context.Manager() as manager, context.Pool(processes) as pool:
        start = manager.Barrier(processes)
        done = pool.starmap(increment, [(url, run_id, TRANSACTIONS, start)] * processes)
    assert done == [TRANSACTIONS] * processes
    assert attempts(url, run_id) == processes * TRANSACTIONS


def test_readers_do_not_wait_for_a_writer(sqlite_run: tuple[str, int]) -> None:
    url, run_id = sqlite_run
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as writing, ThreadPoolExecutor(1) as pool:
        writing.execute(update(Run).where(Run.id == run_id).values(attempts=7))
        # The write lock is held until the block ends: a read in another connection still
        # answers (the committed value), well before busy_timeout.
        assert pool.submit(attempts, url, run_id).result(timeout=10) == 0
    assert attempts(url, run_id) == 7
