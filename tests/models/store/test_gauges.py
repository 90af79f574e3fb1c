"""What a monitoring scrape asks of the store, and the counters every process adds to."""

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from models import store
from models.store import counters, gauges
from models.store.tables import Project, Run, RunStatus, Worker, utcnow
from tests.factories import create_run, make_spec, worker_record


def _run(session: Session, status: RunStatus, **sections: object) -> Run:
    run = create_run(session, make_spec(**sections))
    run.status = status
    session.flush()
    return run


def test_runs_by_status_counts_every_project(session: Session) -> None:
    for status in (RunStatus.QUEUED, RunStatus.QUEUED, RunStatus.FAILED):
        _run(session, status)
    other = Project(name="other")
    session.add(other)
    session.flush()
    theirs = _run(session, RunStatus.SUCCEEDED)
    theirs.project_id = other.id
    session.flush()
    assert gauges.runs_by_status(session=session) == {"queued": 2, "failed": 1, "succeeded": 1}


def test_queued_runs_are_counted_by_backend_and_device(session: Session) -> None:
    _run(session, RunStatus.QUEUED)
    _run(session, RunStatus.QUEUED, device="cuda")
    _run(session, RunStatus.QUEUED, device="cuda")
    _run(session, RunStatus.QUEUED, backend="tensorflow")
    _run(session, RunStatus.RUNNING, backend="tensorflow")
    assert gauges.queued_runs_by_target(session=session) == {
        ("torch", "auto"): 1,
        ("torch", "cuda"): 2,
        ("tensorflow", "auto"): 1,
    }


def test_live_workers_count_under_each_backend_they_serve(session: Session) -> None:
    now = utcnow()
    for pid, cuda in ((1, False), (2, True), (3, False)):
        store.register_worker(
            session=session, worker=worker_record(pid=pid, cuda=cuda), live_seconds=60
        )
    both = replace(worker_record(pid=4), backends=["torch", "tensorflow"])
    store.register_worker(session=session, worker=both, live_seconds=60)
    session.execute(update(Worker).where(Worker.pid == 3).values(expires_at=now))  # silent
    assert gauges.live_workers_by_backend(session=session, now=now + timedelta(seconds=1)) == {
        ("torch", False): 2,
        ("torch", True): 1,
        ("tensorflow", False): 1,
    }


def test_epochs_per_second_sums_the_latest_epoch_of_running_runs(session: Session) -> None:
    fast, slow, done, starting = (
        _run(session, status)
        for status in (RunStatus.RUNNING, RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.RUNNING)
    )
    epochs = {
        fast.id: {1: {"epoch_seconds": 2.0}, 2: {"epoch_seconds": 0.25}},  # the latest counts
        slow.id: {1: {"epoch_seconds": 0.5}},
        done.id: {1: {"epoch_seconds": 0.01}},  # not running
        starting.id: {1: {"train_loss": 1.0}},  # no timing yet
    }
    for run_id, values in epochs.items():
        store.record_epochs(session=session, run_id=run_id, epochs=values)
    assert gauges.epochs_per_second(session=session) == 1 / 0.25 + 1 / 0.5


def test_counters_add_up_and_a_zero_leaves_one_as_it_is(session: Session) -> None:
    first, later = utcnow() - timedelta(minutes=5), utcnow()
    counters.add_counts(session=session, counts={"a": 1, "b": 2, "c": 0}, now=first)
    counters.add_counts(session=session, counts={"a": 1, "b": 0}, now=later)
    totals = counters.read_counts(session=session)
    assert {name: total.value for name, total in totals.items()} == {"a": 2, "b": 2}
    assert (totals["a"].updated_at, totals["b"].updated_at) == (later, first)
