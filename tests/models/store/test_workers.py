"""Workers in the store on SQLite and Postgres: register, beat, liveness bound, leave."""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import store
from models.store.tables import Worker, utcnow
from models.store.workers import FORGET_AFTER
from tests.factories import worker_record


def test_registered_worker_is_listed_with_what_it_serves(session: Session) -> None:
    worker = worker_record(cuda=True)
    store.register_worker(session=session, worker=worker, live_seconds=15)
    [row] = store.live_workers(session=session, now=utcnow())
    assert (row.name, row.host, row.pid, row.concurrency) == ("cpu-1:100", "cpu-1", 100, 2)
    assert (row.queues, row.backends, row.cuda) == (worker.queues, ["torch"], True)
    assert row.started_at == worker.started_at
    assert row.expires_at - row.last_seen_at == timedelta(seconds=15)
    assert store.live_queues(session=session, now=utcnow()) == {
        "reglab.torch",
        "reglab.torch.cuda",
    }


def test_a_worker_is_live_within_its_bound_only(session: Session) -> None:
    store.register_worker(session=session, worker=worker_record(), live_seconds=15)
    now = utcnow()
    assert [w.name for w in store.live_workers(session=session, now=now)] == ["cpu-1:100"]
    later = now + timedelta(seconds=16)
    assert store.live_workers(session=session, now=later) == []
    assert store.live_queues(session=session, now=later) == set()


def test_a_beat_extends_the_bound(session: Session) -> None:
    store.register_worker(session=session, worker=worker_record(), live_seconds=15)
    [before] = store.live_workers(session=session, now=utcnow())
    first_seen, first_expiry = before.last_seen_at, before.expires_at
    assert store.worker_seen(session=session, name="cpu-1:100", live_seconds=60)
    session.expire_all()
    [after] = store.live_workers(session=session, now=first_expiry + timedelta(seconds=1))
    assert after.last_seen_at >= first_seen
    assert after.expires_at - after.last_seen_at == timedelta(seconds=60)
    assert after.started_at == before.started_at


def test_a_beat_of_an_unknown_worker_says_so(session: Session) -> None:
    assert not store.worker_seen(session=session, name="nowhere:1", live_seconds=15)


def test_registering_again_keeps_one_row_with_the_new_figures(session: Session) -> None:
    store.register_worker(session=session, worker=worker_record(), live_seconds=15)
    store.register_worker(session=session, worker=worker_record(cuda=True), live_seconds=15)
    rows = session.scalars(select(Worker)).all()
    assert [(w.name, w.cuda) for w in rows] == [("cpu-1:100", True)]


def test_removed_workers_and_long_silent_ones_are_gone(session: Session) -> None:
    store.register_worker(session=session, worker=worker_record("a", 1), live_seconds=15)
    store.register_worker(session=session, worker=worker_record("b", 2), live_seconds=15)
    store.remove_worker(session=session, name="a:1")
    assert [w.name for w in store.live_workers(session=session, now=utcnow())] == ["b:2"]
    # b:2 went silent long ago: the next registration removes its row.
    long_ago = utcnow() - FORGET_AFTER - timedelta(minutes=1)
    session.execute(update(Worker).values(expires_at=long_ago))
    store.register_worker(session=session, worker=worker_record("c", 3), live_seconds=15)
    assert session.scalars(select(Worker.name)).all() == ["c:3"]


def test_live_workers_are_ordered_by_host_and_pid(session: Session) -> None:
    for host, pid in [("b", 1), ("a", 20), ("a", 3)]:
        store.register_worker(session=session, worker=worker_record(host, pid), live_seconds=15)
    names = [w.name for w in store.live_workers(session=session, now=utcnow())]
    assert names == ["a:3", "a:20", "b:1"]
