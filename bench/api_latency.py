"""Latency of the API as a user sees it, on the embedded stack and on Postgres + Redis.

Prints p50/p95 of `POST /experiments`, of `GET /runs/{id}/metrics` on a run holding
10,000 epochs of the 8 per-epoch metrics (whole history, and `max_points=500`), and the
submit-to-running delay with an idle worker (the run's `started_at - created_at`, both
stamped by the servers). Real processes: the API and a worker, started as `make run` does,
every request with the admin key it makes. What the key check costs: bench/auth_latency.py.

    python bench/api_latency.py [--stack embedded|postgres|both]
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import update  # noqa: E402

from models import store  # noqa: E402
from models.metric_names import EPOCH_METRICS  # noqa: E402
from models.store.db import make_engine, make_sessionmaker  # noqa: E402
from models.store.tables import Run, RunStatus  # noqa: E402
from tests.conftest import REDIS_URL, migrate, scratch_postgres  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    TINY,
    api_client,
    bootstrap_key,
    free_port,
    process_env,
    running,
    submit,
    wait_healthy,
    wait_terminal,
)


def quantiles_ms(samples: list[float]) -> tuple[float, float]:
    """p50 and p95, in milliseconds, of durations in seconds."""
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


def percentiles(samples: list[float]) -> str:
    p50, p95 = quantiles_ms(samples)
    return f"p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   (n={len(samples)})"


def timings(call: Callable[[], httpx.Response], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = call()
        out.append(time.perf_counter() - start)
        assert response.status_code < 300, response.text
    return out


def seed_long_history(database_url: str, run_id: int, epochs: int) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    for first in range(1, epochs + 1, 1000):
        chunk = {
            e: {m: 1.0 / e + i for i, m in enumerate(EPOCH_METRICS)}
            for e in range(first, min(first + 1000, epochs + 1))
        }
        with sessions.begin() as session:
            store.record_epochs(session=session, run_id=run_id, epochs=chunk)
    with sessions.begin() as session:  # keep the bench's parked runs away from the worker
        session.execute(
            update(Run).where(Run.status == RunStatus.QUEUED).values(status=RunStatus.CANCELLED)
        )


@contextmanager
def stack_env(kind: str, home: Path) -> Iterator[dict[str, str]]:
    """REGLAB_* variables for a fresh store and an empty broker of the given kind."""
    if kind == "embedded":
        url = f"sqlite:///{home}/reglab.sqlite"
        migrate(url)
        yield {"REGLAB_HOME": str(home), "REGLAB_DATABASE_URL": url}
        return
    redis.Redis.from_url(REDIS_URL).flushdb()
    with scratch_postgres() as url:
        migrate(url)
        yield {"REGLAB_HOME": str(home), "REGLAB_DATABASE_URL": url, "REGLAB_BROKER_URL": REDIS_URL}


def empty_broker(env: dict[str, str]) -> None:
    if "REGLAB_BROKER_URL" in env:
        redis.Redis.from_url(env["REGLAB_BROKER_URL"]).flushdb()
    else:
        for message in (Path(env["REGLAB_HOME"]) / "broker").glob("*.msg"):
            message.unlink()


def bench_stack(kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            measure(kind, Path(tmp))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                print(
                    f"--- last lines of {log.name}", *log.read_text().splitlines()[-15:], sep="\n"
                )
            raise


def measure(kind: str, home: Path) -> None:
    with ExitStack() as stack:
        port = free_port()
        env = stack.enter_context(stack_env(kind, home))
        env["REGLAB_PORT"] = str(port)
        base = f"http://127.0.0.1:{port}"
        key = bootstrap_key(process_env(env))  # as `make run` does before the API starts
        stack.enter_context(
            running([sys.executable, "-m", "api"], process_env(env), home / "api.log")
        )
        wait_healthy(base)
        client = stack.enter_context(api_client(base, key))
        print(f"\n[{kind}] store {env['REGLAB_DATABASE_URL'].split('@')[-1]}")

        post = timings(lambda: client.post("/experiments", json=TINY), 200)
        print(f"POST /experiments                      {percentiles(post)}")
        run_id = submit(client, TINY)
        seed_long_history(env["REGLAB_DATABASE_URL"], run_id, 10_000)
        url = f"/runs/{run_id}/metrics"
        full = timings(lambda: client.get(url), 20)
        print(f"GET metrics, 10,000 epochs x 8 series  {percentiles(full)}")
        thin = timings(lambda: client.get(url, params={"max_points": 500}), 100)
        print(f"GET metrics, max_points=500            {percentiles(thin)}")
        one = timings(lambda: client.get(url, params={"keys": "val_acc", "max_points": 500}), 100)
        print(f"GET metrics, 1 series, max_points=500  {percentiles(one)}")

        empty_broker(env)
        worker = ["celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO"]
        stack.enter_context(running(worker, process_env(env), home / "worker.log"))
        wait_terminal(client, submit(client, TINY), timeout=120)  # worker up, child warm
        delays = []
        for _ in range(20):
            run = wait_terminal(client, submit(client, TINY), timeout=60)
            assert run["status"] == "succeeded", run
            started = _stamp(run["started_at"]) - _stamp(run["created_at"])
            delays.append(started)
        print(f"submit -> running, idle worker         {percentiles(delays)}")


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "postgres", "both"], default="both")
    args = parser.parse_args()
    kinds = ["embedded", "postgres"] if args.stack == "both" else [args.stack]
    for kind in kinds:
        bench_stack(kind)


if __name__ == "__main__":
    main()
