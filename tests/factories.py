"""Builders for specs and rows used across tests."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.spec import ExperimentSpec
from models.spec.catalog import BuiltinCatalog, DatasetShape
from models.spec.plan import Op, Plan
from models.spec.resolve import plan_for, resolve
from models.store.tables import DEFAULT_PROJECT_ID, Run, utcnow
from workers.execution import RunPolicy, execute_run
from workers.runner import NoHooks


def spec_dict(**sections: Any) -> dict[str, Any]:
    """A small valid spec (moons MLP, 2 epochs) with top-level sections replaced or merged."""
    spec: dict[str, Any] = {
        "seed": 0,
        "dataset": {"name": "moons", "n_samples": 300},
        "model": {"kind": "mlp", "hidden": [16]},
        "training": {"epochs": 2, "batch_size": 32},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def make_spec(**sections: Any) -> ExperimentSpec:
    """A validated spec from `spec_dict`."""
    return ExperimentSpec.model_validate(spec_dict(**sections))


def plan_of(
    ops: Sequence[Op], *, input_shape: tuple[int, ...], n_classes: int, **sections: Any
) -> Plan:
    """A plan of exactly `ops`, with the training rules of `make_spec(**sections)`."""
    shape = DatasetShape(input_shape=input_shape, n_classes=n_classes, n_samples=100)
    return replace(plan_for(make_spec(**sections), shape), ops=tuple(ops))


def make_plan(**sections: Any) -> Plan:
    """The plan of `make_spec(**sections)`, resolved against the built-in catalog."""
    return resolve(make_spec(**sections), BuiltinCatalog()).plan


class EpochLog(NoHooks):
    """Run hooks that only keep each finished epoch's metrics."""

    def __init__(self) -> None:
        self.epochs: dict[int, Mapping[str, float]] = {}

    def epoch_done(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Keep the epoch's metrics."""
        self.epochs[epoch] = metrics


class QueueRecorder:
    """A task sender that keeps the run ids sent to it in order, as one queue would."""

    def __init__(self) -> None:
        self.run_ids: list[int] = []

    def send_task(self, name: str, *, args: list[Any], queue: str, retry: bool) -> object:
        """Record the run id instead of publishing it."""
        self.run_ids.append(int(args[0]))
        return None

    def withdraw(self, run_ids: Collection[int]) -> int:
        """Drop the queued ids of these runs, as a broker's withdrawal would."""
        kept = [i for i in self.run_ids if i not in run_ids]
        removed, self.run_ids[:] = len(self.run_ids) - len(kept), kept
        return removed


def create_run(session: Session, spec: ExperimentSpec | None = None, name: str = "test") -> Run:
    """An experiment with one queued run, flushed (not committed)."""
    spec = spec or make_spec()
    experiment = store.create_experiment(
        session=session, project_id=DEFAULT_PROJECT_ID, name=name, spec=spec.model_dump()
    )
    return experiment.runs[0]


def worker_record(host: str = "cpu-1", pid: int = 100, *, cuda: bool = False) -> store.WorkerRecord:
    """A worker of concurrency 2 serving torch (and, with `cuda`, torch's GPU queue)."""
    return store.WorkerRecord(
        host=host,
        pid=pid,
        queues=["reglab.torch", "reglab.torch.cuda"] if cuda else ["reglab.torch"],
        backends=["torch"],
        cuda=cuda,
        concurrency=2,
        started_at=utcnow() - timedelta(minutes=1),
    )


# The rolled-back test sessions share one connection, which the lease's thread must not use
# while the run writes its epochs: it waits out the run instead (no reconciler runs here).
IN_ONE_CONNECTION = RunPolicy(heartbeat_seconds=3600.0)


def run_to_end(sessions: sessionmaker[Any], **sections: Any) -> Run:
    """Create a run from `make_spec(**sections)`, execute it in-process and reload it."""
    with sessions.begin() as session:
        run_id = create_run(session, make_spec(**sections)).id
    execute_run(run_id, sessions=sessions, threads=1, worker="test", policy=IN_ONE_CONNECTION)
    with sessions() as session:
        run = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run_id)
        assert run is not None
        return run
