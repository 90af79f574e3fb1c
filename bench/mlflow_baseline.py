"""Baseline for reglab's query benchmark: the same queries on an MLflow tracking server.

Starts `mlflow server` on a scratch Postgres database (dropped and recreated each run),
loads the data of `bench/query_data.py` through `MlflowClient` (5,000 runs with params and
summary metrics; one run with a 100,000-step `val_loss` history; 20 runs of 200 epochs of
three curves), then times, after one warm-up each, p50/p95 of: `search_runs` with the
`SEARCH` filter (dropout = 0.3, test_acc > 0.9, by test_acc desc, 100 results);
`get_metric_history` of the long run; its 500-point read as MLflow's UI makes it
(`GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval`, `max_results=500`); and a
20-run comparison built the way an MLflow user would, 60 sequential `get_metric_history`
calls. The last stdout line is one JSON object.

Needs its own venv, apart from the project's (MLflow pins its own SQLAlchemy, Flask, ...),
git-ignored under bench/.
psycopg 3, not psycopg2: SQLAlchemy 2.1 maps `postgresql://` to the psycopg 3 driver.

    python3.11 -m venv bench/.venv-mlflow
    bench/.venv-mlflow/bin/pip install mlflow "psycopg[binary]"
    bench/.venv-mlflow/bin/python bench/mlflow_baseline.py [--repeats 20]
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow
import psycopg
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run

sys.path.insert(0, str(Path(__file__).resolve().parent))
import query_data as qd
from server_cpu import ServerCpu

BATCH = 1000  # MLflow's limit of metrics per log_batch call
FILTER = (
    f"params.dropout = '{qd.SEARCH['dropout']}' and metrics.test_acc > {qd.SEARCH['min_test_acc']}"
)
ORDER_BY = ["metrics.test_acc DESC"]
BIN = Path(sys.executable).parent
SAMPLED = 500  # points of the downsampled read, as reglab's max_points


def recreate_database(url: str) -> None:
    """Drop and create the database named in url, connecting to the `postgres` database."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mlflow_server(store: str, workers: int, timeout: float = 120.0) -> Iterator[tuple[str, int]]:
    """Run `mlflow server` on a free port until the block exits; yield its URL and pid."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115
        opts = f"--host 127.0.0.1 --port {port} --workers {workers}".split()
        store_opts = ["--backend-store-uri", store, "--default-artifact-root", f"{tmp}/artifacts"]
        cmd = [str(BIN / "mlflow"), "server", *store_opts, *opts]
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if requests.get(f"{url}/health", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (Path(tmp) / "server.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"mlflow server did not come up:\n{tail}")
                time.sleep(0.2)
            yield url, proc.pid
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its workers
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


def load(client: MlflowClient, threads: int) -> tuple[str, str, list[str]]:
    """Log all the data; return the search experiment, the long run and the compare runs."""
    search_exp = client.create_experiment("search")
    curves_exp = client.create_experiment("curves")

    def one_run(record: dict[str, Any]) -> None:
        run_id = client.create_run(search_exp).info.run_id
        now = int(time.time() * 1000)
        params = [Param(k, str(v)) for k, v in record["params"].items()]
        metrics = [Metric(k, float(v), now, 0) for k, v in record["summary"].items()]
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id, "FINISHED")

    def history_run(curves: dict[str, list[float]]) -> str:
        run_id: str = client.create_run(curves_exp).info.run_id
        now = int(time.time() * 1000)
        points = [Metric(k, v, now, i) for k, ys in curves.items() for i, v in enumerate(ys, 1)]
        for i in range(0, len(points), BATCH):
            client.log_batch(run_id, metrics=points[i : i + BATCH])
        client.set_terminated(run_id, "FINISHED")
        return run_id

    with ThreadPoolExecutor(threads) as pool:
        long_run = pool.submit(history_run, {"val_loss": qd.long_history()})
        list(pool.map(one_run, qd.run_records()))
        compare = list(pool.map(history_run, qd.compare_curves()))
        return search_exp, long_run.result(), compare


def timed(server: ServerCpu, call: Callable[[], object], repeats: int) -> dict[str, float]:
    """Run call once to warm up, then `repeats` times; p50 and p95 in ms, and the server's CPU
    ms per call (its processes and its Postgres backends)."""
    call()
    seconds, cpu_ms = server.timed(call, repeats)
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {
        "p50": round(statistics.median(ms), 2),
        "p95": round(p95, 2),
        "cpu_ms": round(cpu_ms, 2),
    }


def main() -> None:
    """Parse arguments, run the benchmark, print the table and the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend-store", default="postgresql://postgres@127.0.0.1:5432/mlflow_bench")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--workers", type=int, default=4, help="server workers (MLflow's default)")
    ap.add_argument("--threads", type=int, default=8, help="client threads while loading")
    args = ap.parse_args()
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"  # one line per run otherwise

    started = time.perf_counter()
    if args.backend_store.startswith("postgresql"):
        recreate_database(args.backend_store)
    with mlflow_server(args.backend_store, args.workers) as (url, pid):
        print(f"mlflow {mlflow.__version__} server at {url} on {args.backend_store}")
        client = MlflowClient(tracking_uri=url)
        t0 = time.perf_counter()
        search_exp, long_run, compare = load(client, args.threads)
        load_s = time.perf_counter() - t0
        print(
            f"loaded {qd.N_RUNS:,} runs, a {qd.LONG_HISTORY:,}-step history and "
            f"{qd.COMPARE_RUNS} x {qd.COMPARE_EPOCHS} epochs x 3 curves in {load_s:.1f} s"
        )

        def search() -> list[Run]:
            return list(
                client.search_runs(
                    [search_exp], FILTER, order_by=ORDER_BY, max_results=qd.PAGE_SIZE
                )
            )

        def history() -> None:
            n = len(client.get_metric_history(long_run, "val_loss"))
            assert n == qd.LONG_HISTORY, f"history has {n} points, not {qd.LONG_HISTORY}"

        bulk_interval = f"{url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
        sampled_query = {"run_ids": long_run, "metric_key": "val_loss", "max_results": SAMPLED}

        def history_sampled() -> None:
            answer = requests.get(bulk_interval, params=sampled_query, timeout=60)
            answer.raise_for_status()
            n = len(answer.json()["metrics"])
            assert 2 <= n <= SAMPLED + 2, f"the sampled history has {n} points"

        def compare_all() -> None:
            for run_id in compare:
                for key in ("train_loss", "val_loss", "val_acc"):
                    client.get_metric_history(run_id, key)

        runs = search()
        want = [r["summary"]["test_acc"] for r in qd.search_expected(qd.run_records())]
        assert [r.data.metrics["test_acc"] for r in runs] == want, "search_runs got other runs"
        store = urlsplit(args.backend_store)
        on_postgres = args.backend_store.startswith("postgresql")
        admin = urlunsplit(store._replace(path="/postgres")) if on_postgres else None
        server = ServerCpu(pid, admin, store.path[1:])
        result: dict[str, Any] = {
            "mlflow_version": mlflow.__version__,
            "search_runs_ms": timed(server, search, args.repeats),
            "metric_history_ms": timed(server, history, args.repeats),
            "metric_history_500_ms": timed(server, history_sampled, args.repeats),
            "compare_ms": timed(server, compare_all, args.repeats),
            "search_matches": len(runs),
            "load_s": round(load_s, 1),
        }
    header = f"{'query':<50}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>9}"
    print(f"\n{header}   (n={args.repeats} after 1 warm-up)")
    for label, key in [
        ("search_runs (dropout=0.3, test_acc>0.9, top 100)", "search_runs_ms"),
        (f"get_metric_history ({qd.LONG_HISTORY:,} points)", "metric_history_ms"),
        (f"get-history-bulk-interval ({SAMPLED} points)", "metric_history_500_ms"),
        (f"compare ({qd.COMPARE_RUNS} runs x 3 keys, 60 calls)", "compare_ms"),
    ]:
        figures = result[key]
        print(f"{label:<50}{figures['p50']:>9.1f}{figures['p95']:>9.1f}{figures['cpu_ms']:>9.1f}")
    print(f"search matches: {len(runs)}; whole run {time.perf_counter() - started:.0f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
