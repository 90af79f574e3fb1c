"""Query latency over HTTP on Postgres, against MLflow's tracking server on the same data.

Loads `bench/query_data.py` into a fresh Postgres database: 5,000 finished runs (params as
spec fields, four summary values each), one run with a 100,000-epoch `val_loss` history,
and 20 runs of 200 epochs x 3 curves. Then, through the real API process, times:

- search: `GET /runs?filter=spec.regularization.dropout = 0.3 and summary.test_acc > 0.9
  &order_by=summary.test_acc desc&limit=100` (checked against the reference answer);
- metric history: `GET /runs/{id}/metrics?keys=val_loss`, whole and with `max_points=500`
  (MLflow's side of the latter: its UI's 500-point read, `get-history-bulk-interval`);
- compare: `GET /compare` of the 20 runs and 3 keys.

Beside p50/p95 it prints the CPU the server spends per request, the API process and its
Postgres backends together (bench/server_cpu.py): on a shared machine wall-clock moves with
the neighbours, CPU per request much less. It prints the Postgres plan of a metric read (an
index, not a scan). If the bench-only MLflow virtualenv exists (see bench/mlflow_baseline.py),
it runs the same operations there and prints the ratios MLflow / reglab of both.

    python bench/query_latency.py [--repeats 20] [--mlflow-python bench/.venv-mlflow/bin/python]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, make_url, text  # noqa: E402

from bench import query_data  # noqa: E402
from bench.api_latency import percentiles, quantiles_ms  # noqa: E402
from bench.server_cpu import ServerCpu, process_tree  # noqa: E402
from models import store  # noqa: E402
from models.spec import ExperimentSpec  # noqa: E402
from models.store.db import make_engine, make_sessionmaker  # noqa: E402
from models.store.tables import Experiment, Run, RunStatus, RunSummary  # noqa: E402
from tests.conftest import migrate, scratch_postgres  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    api_client,
    bootstrap_key,
    free_port,
    process_env,
    running,
    wait_healthy,
)

BASE_SPEC = ExperimentSpec.model_validate(
    {"dataset": {"name": "digits"}, "model": {"hidden": [64]}}
).model_dump()
FILTER = "spec.regularization.dropout = 0.3 and summary.test_acc > 0.9"


def spec_of(params: dict[str, Any]) -> dict[str, Any]:
    spec = json.loads(json.dumps(BASE_SPEC))
    spec["regularization"].update(dropout=params["dropout"], l2=params["l2"])
    spec["optimizer"]["lr"] = params["lr"]
    spec.update(seed=params["seed"], backend=params["backend"])
    return spec


def load(url: str) -> dict[str, Any]:
    """Write the shared data set; returns the ids the timed requests need."""
    sessions = make_sessionmaker(make_engine(url))
    records = query_data.run_records()
    with sessions.begin() as session:
        experiment = Experiment(project_id=1, name="bench", spec=BASE_SPEC)
        session.add(experiment)
        session.flush()
        rows = [
            {
                "project_id": 1,
                "experiment_id": experiment.id,
                "status": RunStatus.SUCCEEDED,
                "backend": r["params"]["backend"],
                "seed": r["params"]["seed"],
                "spec": spec_of(r["params"]),
                "epochs_done": 200,
            }
            for r in records
        ]
        ids = list(session.scalars(insert(Run).returning(Run.id), rows))
        summaries = [
            {"run_id": run_id, "name": name, "value": value}
            for run_id, record in zip(ids, records, strict=True)
            for name, value in record["summary"].items()
        ]
        session.execute(insert(RunSummary), summaries)
        long_id, compare_ids = ids[0], ids[1 : 1 + query_data.COMPARE_RUNS]
        # Through the store's own write path, which keeps the metric blocks with the epochs.
        history = query_data.long_history()
        for start in range(0, len(history), 10_000):
            chunk = history[start : start + 10_000]
            epochs = {start + i + 1: {"val_loss": v} for i, v in enumerate(chunk)}
            store.record_epochs(session=session, run_id=long_id, epochs=epochs)
        for run_id, curves in zip(compare_ids, query_data.compare_curves(), strict=True):
            epochs = {
                e: {name: values[e - 1] for name, values in curves.items()}
                for e in range(1, query_data.COMPARE_EPOCHS + 1)
            }
            store.record_epochs(session=session, run_id=run_id, epochs=epochs)
        session.execute(text("ANALYZE"))
    answer = query_data.search_expected(records)
    expected = {i for i, r in zip(ids, records, strict=True) if r in answer}
    return {"long": long_id, "compare": compare_ids, "expected": expected}


def plan_of_metric_read(url: str, run_id: int) -> str:
    """Postgres's plan for reading one series of a run."""
    with make_engine(url).connect() as conn:
        rows = conn.execute(
            text("EXPLAIN SELECT epoch, value FROM metric WHERE run_id = :r AND name = 'val_loss'"),
            {"r": run_id},
        )
        return " / ".join(row[0].strip() for row in rows)


def measure(
    client: httpx.Client, ids: dict[str, Any], repeats: int, server: ServerCpu
) -> dict[str, tuple[list[float], float]]:
    """Seconds per request of each operation, and the server's CPU ms per request."""
    search = {"filter": FILTER, "order_by": "summary.test_acc desc", "limit": 100}
    found = client.get("/runs", params=search).json()
    assert {r["id"] for r in found["items"]} == ids["expected"], "search answer differs"
    metrics = f"/runs/{ids['long']}/metrics"
    full = client.get(metrics, params={"keys": "val_loss"}).json()
    assert len(full["epochs"]) == query_data.LONG_HISTORY
    compare = {
        "run_ids": ",".join(map(str, ids["compare"])),
        "keys": "train_loss,val_loss,val_acc",
    }
    calls: dict[str, Callable[[], object]] = {
        "search_runs": lambda: client.get("/runs", params=search).raise_for_status(),
        "metric_history": lambda: client.get(
            metrics, params={"keys": "val_loss"}
        ).raise_for_status(),
        "metric_history_500": lambda: client.get(
            metrics, params={"keys": "val_loss", "max_points": 500}
        ).raise_for_status(),
        "compare": lambda: client.get("/compare", params=compare).raise_for_status(),
    }
    return {name: server.timed(call, repeats) for name, call in calls.items()}


def mlflow_figures(python: Path, repeats: int) -> dict[str, Any] | None:
    """Run the MLflow baseline in its own virtualenv; None if that venv is missing."""
    if not python.exists():
        print(f"\n(no MLflow baseline: {python} missing; see bench/mlflow_baseline.py)")
        return None
    script = ROOT / "bench" / "mlflow_baseline.py"
    done = subprocess.run(
        [str(python), str(script), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=True,
    )
    print("\n" + done.stdout.strip())
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def api_pid() -> int:
    """The API process: this process's child (its admin CLI call has ended)."""
    children = [pid for pid in process_tree(os.getpid()) if pid != os.getpid()]
    assert len(children) == 1, children
    return children[0]


def postgres_of(url: str) -> tuple[str, str]:
    """A psycopg URL of the server at `url` (SQLAlchemy's), and the database's name."""
    parts = make_url(url)
    return parts.set(drivername="postgresql").render_as_string(False), str(parts.database)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--mlflow-python", type=Path, default=ROOT / "bench/.venv-mlflow/bin/python"
    )
    args = parser.parse_args()
    with scratch_postgres() as url, tempfile.TemporaryDirectory() as home:
        migrate(url)
        started = time.perf_counter()
        ids = load(url)
        print(f"loaded {query_data.N_RUNS:,} runs in {time.perf_counter() - started:.1f} s")
        # The long run holds most rows of this table, so Postgres rightly scans for it; a
        # run among many is read through the primary key.
        for label, run_id in (("long run", ids["long"]), ("a 200-epoch run", ids["compare"][0])):
            print(f"plan of a metric read, {label}: {plan_of_metric_read(url, run_id)}")
        port = free_port()
        env = {"REGLAB_DATABASE_URL": url, "REGLAB_HOME": home, "REGLAB_PORT": str(port)}
        key = bootstrap_key(process_env(env))
        with running([sys.executable, "-m", "api"], process_env(env), Path(home) / "api.log"):
            wait_healthy(f"http://127.0.0.1:{port}")
            server = ServerCpu(api_pid(), *postgres_of(url))
            with api_client(f"http://127.0.0.1:{port}", key, timeout=60) as client:
                ours = measure(client, ids, args.repeats, server)
    print("\nreglab (Postgres, HTTP; CPU: the API process and its Postgres backends)")
    for name, (samples, cpu_ms) in ours.items():
        print(f"  {name:<20} {percentiles(samples)}   CPU {cpu_ms:7.1f} ms")
    theirs = mlflow_figures(args.mlflow_python, args.repeats)
    if theirs is None:
        return
    print(f"\nratio MLflow {theirs['mlflow_version']} / reglab (higher: reglab faster)")
    print(f"  {'':<32} {'p50':>7} {'CPU':>7}")
    pairs = [
        ("search_runs", "search_runs_ms", "search_runs"),
        ("metric history, whole", "metric_history_ms", "metric_history"),
        ("metric history, 500 points", "metric_history_500_ms", "metric_history_500"),
        ("compare 20 runs x 3 keys", "compare_ms", "compare"),
    ]
    for label, mlflow_key, our_key in pairs:
        samples, cpu_ms = ours[our_key]
        ratio = theirs[mlflow_key]["p50"] / quantiles_ms(samples)[0]
        cpu_ratio = theirs[mlflow_key]["cpu_ms"] / cpu_ms
        print(f"  {label:<32} {ratio:6.1f}x {cpu_ratio:6.1f}x")


if __name__ == "__main__":
    main()
