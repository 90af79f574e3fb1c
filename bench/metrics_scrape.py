"""What a Prometheus scrape of `GET /metrics` costs as the store grows, on SQLite and Postgres.

Loads a store with N runs (a fifth of them queued, 200 running with 50 epochs of curves each,
the rest finished) and 50 live workers, then times the scrape's body in-process: the app's
HTTP metrics plus the store's figures (`api.metrics.scrape`: five grouped queries), p50 and
p95 over repeated scrapes, for each N. Prometheus scrapes every 15 s by default.

    python bench/metrics_scrape.py [--runs 1000 100000] [--repeats 50] [--store sqlite|postgres]
"""

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench.api_latency import percentiles  # noqa: E402
from models import store  # noqa: E402
from models.spec import ExperimentSpec  # noqa: E402
from models.store.db import make_engine, make_sessionmaker  # noqa: E402
from models.store.tables import DEFAULT_PROJECT_ID, Experiment, Metric, Run, RunStatus  # noqa: E402
from tests.conftest import migrate, scratch_postgres  # noqa: E402
from tests.factories import worker_record  # noqa: E402

SPEC = ExperimentSpec.model_validate({"dataset": {"name": "moons"}}).model_dump()
RUNNING, EPOCHS, WORKERS = 200, 50, 50


def _status(i: int) -> str:
    if i < RUNNING:
        return RunStatus.RUNNING
    return RunStatus.QUEUED if i % 5 == 0 else (RunStatus.SUCCEEDED, RunStatus.FAILED)[i % 2]


def load(sessions: sessionmaker[Any], runs: int) -> None:
    """`runs` runs of one experiment, curves for the running ones, and live workers."""
    with sessions.begin() as session:
        experiment = Experiment(project_id=DEFAULT_PROJECT_ID, name="bench", spec=SPEC)
        session.add(experiment)
        session.flush()
        rows = [
            {"project_id": DEFAULT_PROJECT_ID, "experiment_id": experiment.id, "seed": i,
             "backend": ("torch", "tensorflow")[i % 2], "spec": SPEC, "status": _status(i),
             "epochs_done": EPOCHS if i < RUNNING else 0}
            for i in range(runs)
        ]  # fmt: skip
        session.execute(insert(Run), rows)
        running = session.scalars(Run.__table__.select().with_only_columns(Run.id).limit(RUNNING))
        metrics = [
            {"run_id": run_id, "name": name, "epoch": epoch, "value": 0.5}
            for run_id in list(running)
            for epoch in range(1, EPOCHS + 1)
            for name in ("epoch_seconds", "train_loss", "val_acc")
        ]
        session.execute(insert(Metric), metrics)
        for pid in range(WORKERS):
            record = worker_record(pid=pid, cuda=pid % 10 == 0)
            store.register_worker(session=session, worker=record, live_seconds=3600)


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, migrated database of `kind`."""
    with tempfile.TemporaryDirectory() as home:
        sqlite = nullcontext(f"sqlite:///{Path(home) / 'bench.sqlite'}")
        with scratch_postgres() if kind == "postgres" else sqlite as url:
            migrate(url)
            yield url


def measure(kind: str, runs: int, repeats: int) -> None:
    """Load a store of `runs` runs and time `repeats` scrapes of it."""
    from api.metrics import scrape  # the app's module, without building the app

    with database(kind) as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        load(sessions, runs)
        http = CollectorRegistry()
        samples = []
        for _ in range(repeats):
            with sessions() as session:
                start = time.perf_counter()
                body = scrape(http, session)
                samples.append(time.perf_counter() - start)
        assert b"reglab_runs" in body
        print(f"{kind:8} {runs:>7} runs: scrape {percentiles(samples)}")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    for kind in kinds:
        for runs in args.runs:
            measure(kind, runs, args.repeats)


if __name__ == "__main__":
    main()
