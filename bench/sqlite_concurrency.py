"""Concurrent writes on the embedded store (SQLite): how many fail, and how long they wait.

A real API process (`python -m api`, as `make run` starts it) on a fresh SQLite store, with a
thread renewing a run's lease every 20 ms through its own engine (a worker's writes, busier).
Three bursts, each released at once from one thread per request: 40 experiment cancels, 40 run
cancels, 50 POST /experiments under one Idempotency-Key; and, for what writes cost readers,
20 reads of a 5,000-epoch history (GET /runs/{id}/metrics). Prints per burst the 5xx count and
latency p50/p95, and as the baseline the same requests sent one at a time in the same run.

    python bench/sqlite_concurrency.py [--rounds 3]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_latency import seed_long_history  # noqa: E402
from tests.integration.concurrency import (  # noqa: E402
    SCENARIOS,
    LeaseWriter,
    Outcome,
    burst,
    create_experiments,
    embedded_api,
    locked_errors,
)

HISTORY_EPOCHS = 5000


def quantiles_ms(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95, in milliseconds, of durations in seconds."""
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


def report(
    name: str, concurrent: list[Outcome], alone: list[Outcome], renewals: list[float]
) -> None:
    """One line: failures, concurrent latency, the latency of one request at a time, and how
    long the lease writer's renewals took meanwhile."""
    errors = sum(o.status >= 500 for o in concurrent)
    p50, p95 = quantiles_ms([o.seconds for o in concurrent])
    base, _ = quantiles_ms([o.seconds for o in alone])
    _, lease95 = quantiles_ms(renewals)
    print(
        f"{name:<19} 5xx {errors:3d}/{len(concurrent):<4d} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms"
        f"  | one at a time p50 {base:6.1f} ms (p95/one {p95 / base:5.1f}x)"
        f"  | lease renewal p95 {lease95:6.1f} ms, max {max(renewals) * 1000:6.1f} ms"
    )


def read_history(api: httpx.Client, run_id: int, n: int) -> list[Outcome]:
    """`n` concurrent reads of a run's whole history."""
    return burst(api, n, lambda client, _: client.get(f"/runs/{run_id}/metrics"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="bursts per scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, embedded_api(home := Path(tmp) / "home") as made:
        api, database_url = made
        lease_run = create_experiments(api, 1)[0]["runs"][0]["id"]
        seed_long_history(database_url, lease_run, HISTORY_EPOCHS)
        scenarios = {
            **SCENARIOS,
            "long reads": (lambda api, n: read_history(api, lease_run, n), 20),
        }
        with LeaseWriter(database_url, lease_run) as writer:
            for name, (scenario, n) in scenarios.items():
                writer.seconds.clear()
                concurrent = [o for _ in range(args.rounds) for o in scenario(api, n)]
                renewals = list(writer.seconds)
                alone = [o for _ in range(n // 4) for o in scenario(api, 1)]
                report(name, concurrent, alone, renewals)
        print(f"lease writer: {len(writer.errors)} failed renewals")
        for error in {str(e)[:160] for e in writer.errors}:
            print(f"  {error}")
        print(f"API log: {len(locked_errors(home))} lines with 'database is locked'")


if __name__ == "__main__":
    main()
