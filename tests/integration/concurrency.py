"""Concurrent clients against a real API on the embedded store, beside a writer like a worker's.

Shared by tests/integration/test_embedded_concurrency.py (which asserts on the outcomes) and
bench/sqlite_concurrency.py (which prints their latencies).
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from models import store
from models.store.db import make_engine, make_sessionmaker
from models.store.tables import Run, RunStatus
from tests.conftest import migrate
from tests.integration.stack import (
    TINY,
    api_client,
    bootstrap_key,
    free_port,
    process_env,
    running,
    wait_healthy,
)

WORKER = "lease-writer"


@dataclass(frozen=True)
class Outcome:
    """One response of a concurrent burst: its status, its body and how long it took."""

    status: int
    body: dict[str, Any]
    seconds: float


@contextmanager
def embedded_api(home: Path) -> Iterator[tuple[httpx.Client, str]]:
    """The API as `make run` starts it, on a fresh SQLite store under `home`: (a client, db URL)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    database_url = f"sqlite:///{home / 'reglab.sqlite'}"
    migrate(database_url)
    port = free_port()
    # A reconciler pass every 0.1 s that resends runs queued over a second: in the API process,
    # a transaction that reads and then writes, beside the requests' writes.
    settings = {"REGLAB_RECONCILE_SECONDS": "0.1", "REGLAB_REQUEUE_AFTER_SECONDS": "1"}
    env = process_env({"REGLAB_HOME": str(home), "REGLAB_PORT": str(port), **settings})
    base_url = f"http://127.0.0.1:{port}"
    with (
        running(["python", "-m", "api"], env, home / "api.log"),
        api_client(base_url, bootstrap_key(env), timeout=120) as api,
    ):
        wait_healthy(base_url)
        yield api, database_url


def locked_errors(home: Path) -> list[str]:
    """Lines of the API's log (under `home`) reporting a locked database."""
    lines = (home / "api.log").read_text(errors="replace").splitlines()
    return [line for line in lines if "database is locked" in line]


class LeaseWriter:
    """A thread renewing a run's lease through its own engine every `interval` seconds, as a
    worker's lease thread does (more often, so that writes overlap the requests' writes)."""

    def __init__(self, database_url: str, run_id: int, interval: float = 0.02) -> None:
        self.sessions = make_sessionmaker(make_engine(database_url))
        self.run_id, self.interval = run_id, interval
        self.seconds: list[float] = []  # how long each renewal took
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "LeaseWriter":
        with self.sessions.begin() as session:
            session.execute(
                update(Run)
                .where(Run.id == self.run_id)
                .values(status=RunStatus.RUNNING, worker=WORKER)
            )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            began = time.perf_counter()
            try:
                with self.sessions.begin() as session:
                    store.renew_lease(
                        session=session, run_id=self.run_id, worker=WORKER, lease_seconds=30
                    )
                self.seconds.append(time.perf_counter() - began)
            except Exception as exc:  # counted: the caller asserts there were none
                self.errors.append(exc)


def burst(
    api: httpx.Client, n: int, request: Callable[[httpx.Client, int], httpx.Response]
) -> list[Outcome]:
    """`request(client, i)` for i in range(n), all released at once from n threads."""
    start = threading.Barrier(n)

    def one(i: int) -> Outcome:
        # A client per thread (set up as `api` is), so that no request waits for a connection.
        with httpx.Client(
            base_url=api.base_url, headers=api.headers, timeout=api.timeout
        ) as client:
            start.wait()
            began = time.perf_counter()
            response = request(client, i)
            seconds = time.perf_counter() - began
        json = response.headers.get("content-type", "").startswith("application/json")
        body = response.json() if json else {"text": response.text}
        return Outcome(response.status_code, body, seconds)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def create_experiments(api: httpx.Client, n: int) -> list[dict[str, Any]]:
    """`n` single-run experiments, created one after the other (their runs stay queued)."""
    responses = [api.post("/experiments", json=TINY) for _ in range(n)]
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    return [r.json() for r in responses]


def cancel_experiments(api: httpx.Client, n: int) -> list[Outcome]:
    """`n` concurrent POST /experiments/{id}/cancel, each on its own experiment."""
    ids = [e["id"] for e in create_experiments(api, n)]
    return burst(api, n, lambda c, i: c.post(f"/experiments/{ids[i]}/cancel"))


def cancel_runs(api: httpx.Client, n: int) -> list[Outcome]:
    """`n` concurrent POST /runs/{id}/cancel, each on its own run."""
    ids = [e["runs"][0]["id"] for e in create_experiments(api, n)]
    return burst(api, n, lambda c, i: c.post(f"/runs/{ids[i]}/cancel"))


def idempotent_posts(api: httpx.Client, n: int) -> list[Outcome]:
    """`n` concurrent POST /experiments of one body under one fresh Idempotency-Key."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    return burst(api, n, lambda c, i: c.post("/experiments", json=TINY, headers=headers))


SCENARIOS: dict[str, tuple[Callable[[httpx.Client, int], list[Outcome]], int]] = {
    "experiment cancels": (cancel_experiments, 40),
    "run cancels": (cancel_runs, 40),
    "idempotent POSTs": (idempotent_posts, 50),
}
