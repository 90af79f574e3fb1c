"""The lease lives from claim to finish: a thread renews it, whatever the training thread does."""

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from models import store
from models.services.experiments import cancel_run
from models.store.tables import DEFAULT_PROJECT_ID, RunStatus, utcnow
from tests.factories import create_run, make_spec
from tests.integration.stack import poll
from workers.datasets import DatasetArrays
from workers.execution import RunPolicy, execute_run
from workers.run_lease import RunLease
from workers.runner import Outcome, RunHooks, train

LEASE = RunPolicy(lease_seconds=1.0, heartbeat_seconds=0.1)


def lease_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lease-run-")]


@pytest.fixture
def run_id(fresh_sessions: sessionmaker[Any]) -> Iterator[int]:
    with fresh_sessions.begin() as session:
        created = create_run(session, make_spec()).id
    yield created
    assert not lease_threads()  # every lease thread was stopped and joined


def in_background(sessions: sessionmaker[Any], run_id: int) -> tuple[threading.Thread, list[str]]:
    """execute_run in a thread under the short lease, as a worker child would run it."""
    statuses: list[str] = []

    def work() -> None:
        statuses.append(execute_run(run_id, sessions=sessions, threads=1, worker="w", policy=LEASE))

    thread = threading.Thread(target=work, daemon=True)  # a failed test must not hang pytest
    thread.start()
    return thread, statuses


def lease_expiry(sessions: sessionmaker[Any], run_id: int) -> datetime | None:
    with sessions() as session:
        run = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run_id)
        assert run is not None
        return run.lease_expires_at if run.status == RunStatus.RUNNING else None


def test_lease_is_renewed_while_training_is_blocked(
    fresh_sessions: sessionmaker[Any], run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def slow_start(spec: Any, *, threads: int, hooks: RunHooks, data: DatasetArrays) -> Outcome:
        # Like a framework import on a loaded machine: no hook is called for a long while.
        assert release.wait(timeout=120)
        return train(spec, threads=threads, hooks=hooks, data=data)

    monkeypatch.setattr("workers.execution.train", slow_start)
    thread, statuses = in_background(fresh_sessions, run_id)
    try:
        claimed_until = poll(lambda: lease_expiry(fresh_sessions, run_id), timeout=60)
        # Renewed past three leases after the claim: training has been blocked that long.
        later = claimed_until + timedelta(seconds=3 * LEASE.lease_seconds)
        poll(lambda: (lease_expiry(fresh_sessions, run_id) or later) > later or None, timeout=60)
        with fresh_sessions.begin() as session:  # what the reconciler would do now
            assert store.expire_leases(session=session, now=utcnow(), max_attempts=5) == []
    finally:
        release.set()
        thread.join(timeout=120)
    assert statuses == ["succeeded"]
    with fresh_sessions() as session:
        run = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run_id)
        assert run is not None and (run.attempts, run.epochs_done) == (1, 2)


def test_cancel_stops_training_through_the_flag_alone(
    fresh_sessions: sessionmaker[Any], run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    renewed_by: set[str] = set()
    renew_lease = store.renew_lease

    def watched_renew(**kwargs: Any) -> bool:
        renewed_by.add(threading.current_thread().name)
        return renew_lease(**kwargs)

    def train_until_stopped(spec: Any, *, threads: int, hooks: RunHooks, data: Any) -> Outcome:
        deadline = time.monotonic() + 60
        while not hooks.should_stop():  # what the loop asks between batches
            assert time.monotonic() < deadline, "the cancel never reached the loop"
            time.sleep(0.01)  # a batch
        return Outcome(summary={}, stopped="interrupted", stopped_at=0)

    monkeypatch.setattr(store, "renew_lease", watched_renew)
    monkeypatch.setattr("workers.execution.train", train_until_stopped)
    thread, statuses = in_background(fresh_sessions, run_id)
    poll(lambda: renewed_by or None, timeout=60)  # training, and the lease renewed
    cancel_run(fresh_sessions, project_id=DEFAULT_PROJECT_ID, run_id=run_id)
    thread.join(timeout=60)
    assert statuses == ["cancelled"]
    assert renewed_by == {f"lease-run-{run_id}"}  # never the training thread


def failing(calls: list[int]) -> Callable[..., bool]:
    def renew(**_: Any) -> bool:
        calls.append(1)
        raise OperationalError("UPDATE run", {}, Exception("connection refused"))

    return renew


def test_store_outage_during_renewal_keeps_the_run(
    fresh_sessions: sessionmaker[Any], run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(store, "renew_lease", failing(calls))
    with RunLease(run_id, "w", fresh_sessions, interval=0.01, lease_seconds=1.0) as lease:
        poll(lambda: len(calls) >= 3 or None, timeout=60, interval=0.01)
        assert not lease.lost  # the next renewal tries again
    assert not lease_threads()


def test_lease_taken_by_another_worker_is_lost(
    fresh_sessions: sessionmaker[Any], run_id: int
) -> None:
    with fresh_sessions.begin() as session:
        assert store.claim_run(session=session, run_id=run_id, worker="other", lease_seconds=60)
    with RunLease(run_id, "w", fresh_sessions, interval=0.01, lease_seconds=1.0) as lease:
        poll(lambda: lease.lost or None, timeout=60, interval=0.01)


def test_a_renewal_that_keeps_breaking_loses_the_run_after_a_lease(
    fresh_sessions: sessionmaker[Any], run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> bool:
        raise RuntimeError("a bug in the renewal, not an outage")

    monkeypatch.setattr(store, "renew_lease", broken)
    started = time.monotonic()
    with RunLease(run_id, "w", fresh_sessions, interval=0.01, lease_seconds=0.5) as lease:
        poll(lambda: lease.lost or None, timeout=60, interval=0.01)
    # Not at the first failure: the lease it holds is still good for a while.
    assert time.monotonic() - started >= 0.5


def test_a_loop_without_progress_lets_its_lease_go(
    fresh_sessions: sessionmaker[Any], run_id: int
) -> None:
    with fresh_sessions.begin() as session:
        assert store.claim_run(session=session, run_id=run_id, worker="w", lease_seconds=60)
    lease = RunLease(run_id, "w", fresh_sessions, interval=0.01, lease_seconds=60)
    lease.stall_seconds = 0.5  # ten leases by default, at least five minutes
    with lease:
        for _ in range(30):  # a loop making progress keeps it
            lease.touch()
            time.sleep(0.02)
        assert not lease.lost
        poll(lambda: lease.lost or None, timeout=60, interval=0.01)  # then it hangs
        assert not lease_threads()  # it stopped renewing: the lease will lapse
