"""A worker's entry in the store: what it declares, its beats, its leaving, a store away."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.db import make_engine, make_sessionmaker
from models.store.tables import Worker, utcnow
from tests.conftest import migrate
from tests.factories import worker_record
from tests.integration.stack import poll
from workers.registry import MISSED_BEATS, Registration, describe


def test_a_worker_declares_the_backends_and_cuda_of_its_queues() -> None:
    gpu = describe({"reglab.torch", "reglab.torch.cuda", "reglab.tensorflow"}, 4)
    assert (gpu.backends, gpu.cuda, gpu.concurrency) == (["torch", "tensorflow"], True, 4)
    assert gpu.queues == ["reglab.tensorflow", "reglab.torch", "reglab.torch.cuda"]
    cpu = describe({"reglab.tensorflow"}, 1)
    assert (cpu.backends, cpu.cuda) == (["tensorflow"], False)


def names(sessions: sessionmaker[Any]) -> list[str]:
    with sessions() as session:
        return [w.name for w in store.live_workers(session=session, now=utcnow())]


def rows(sessions: sessionmaker[Any]) -> int:
    """Worker rows, live or lapsed."""
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Worker)) or 0)


def test_registration_beats_registers_again_and_leaves(fresh_sessions: sessionmaker[Any]) -> None:
    worker = worker_record()
    registration = Registration(worker, fresh_sessions, interval=0.05)
    assert registration.live_seconds == MISSED_BEATS * 0.05
    registration.start()
    poll(lambda: names(fresh_sessions) == [worker.name] or None, timeout=10)
    with fresh_sessions.begin() as session:  # e.g. a store restored from an older backup
        session.execute(delete(Worker))
    poll(lambda: names(fresh_sessions) == [worker.name] or None, timeout=10)
    registration.stop()
    poll(lambda: rows(fresh_sessions) == 0 or None, timeout=10)  # removed, not only lapsed


def test_a_store_away_costs_beats_not_the_thread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "not-yet"  # SQLite cannot open a file in a missing folder: an outage
    url = f"sqlite:///{folder / 'reglab.sqlite'}"
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    worker = worker_record()
    registration = Registration(worker, sessions, interval=0.05)
    registration.beat()  # retried for a beat, then logged: nothing raised
    assert f"could not record worker {worker.name} as alive" in caplog.text
    registration.start()
    ready = tmp_path / "ready"
    ready.mkdir()
    migrate(f"sqlite:///{ready / 'reglab.sqlite'}")
    ready.rename(folder)  # the store is back, whole: the next beat registers the worker
    poll(lambda: names(sessions) == [worker.name] or None, timeout=10)
    registration.stop()
    poll(lambda: rows(sessions) == 0 or None, timeout=10)
    engine.dispose()
