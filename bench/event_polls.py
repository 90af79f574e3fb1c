"""What one poll of a live event stream costs, on SQLite and on Postgres, at the sizes that
matter: a run of 100,000 epochs, and a search of 2,000 runs of which 64 still train.

Each figure is one `poll()` of a follower (the stream's whole read: a session, its queries,
the events built), timed directly, with the client's mark set as described. A stream polls
every REGLAB_SSE_POLL_SECONDS (0.5 s): the idle polls are the steady cost of an open stream.

    python bench/event_polls.py [--store sqlite|postgres|both] [--n 200]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, update  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from models import store  # noqa: E402
from models.metric_names import EPOCH_METRICS  # noqa: E402
from models.services.event_ids import PollIds, RunMark  # noqa: E402
from models.services.events import ExperimentFollower, RunFollower  # noqa: E402
from models.store.db import make_engine, make_sessionmaker  # noqa: E402
from models.store.experiments import SearchRecord  # noqa: E402
from models.store.tables import DEFAULT_PROJECT_ID, Metric, Run  # noqa: E402
from tests.conftest import migrate, scratch_postgres  # noqa: E402
from tests.factories import make_spec  # noqa: E402

LONG_RUN_EPOCHS = 100_000
SEARCH_RUNS, TRAINING, SEARCH_EPOCHS = 2000, 64, 20


@contextmanager
def store_url(kind: str, home: Path) -> Iterator[str]:
    """A freshly migrated store of this kind."""
    with scratch_postgres() if kind == "postgres" else nullcontext(f"sqlite:///{home}/e.db") as url:
        migrate(url)
        yield url


def add_epochs(sessions: sessionmaker[Any], run_ids: list[int], epochs: int) -> None:
    """Every metric of `epochs` epochs for each run, in large inserts; `epochs_done` set."""
    rows = [
        {"run_id": run_id, "name": name, "epoch": epoch, "value": 1.0 / epoch}
        for run_id in run_ids
        for epoch in range(1, epochs + 1)
        for name in EPOCH_METRICS
    ]
    for start in range(0, len(rows), 50_000):
        with sessions.begin() as session:
            session.execute(insert(Metric), rows[start : start + 50_000])
    with sessions.begin() as session:
        session.execute(update(Run).where(Run.id.in_(run_ids)).values(epochs_done=epochs))


def seed(sessions: sessionmaker[Any]) -> tuple[int, int]:
    """A running run of LONG_RUN_EPOCHS epochs, and a search of SEARCH_RUNS runs of which
    TRAINING run and the rest succeeded, SEARCH_EPOCHS epochs each: (run id, experiment id)."""
    spec = make_spec().model_dump()
    record = SearchRecord({"space": {}}, SEARCH_RUNS, None)
    with sessions.begin() as session:
        run_id = (
            store.create_experiment(
                session=session, project_id=DEFAULT_PROJECT_ID, name="long", spec=spec
            )
            .runs[0]
            .id
        )
        search = store.create_experiment(
            session=session, project_id=DEFAULT_PROJECT_ID, name="s", spec=spec, search=record
        )
        for index in range(SEARCH_RUNS):
            store.claim_configuration(session=session, experiment_id=search.id, index=index)
        runs = store.add_configuration_runs(
            session=session, experiment=search, index=0, specs=[spec] * SEARCH_RUNS,
            trial_ids=list(range(SEARCH_RUNS)),
        )  # fmt: skip
        ids = [run.id for run in runs]
        session.execute(update(Run).where(Run.id.in_([run_id, *ids])).values(status="running"))
        ended = ids[TRAINING:]
        session.execute(update(Run).where(Run.id.in_(ended)).values(status="succeeded"))
    add_epochs(sessions, [run_id], LONG_RUN_EPOCHS)
    add_epochs(sessions, ids, SEARCH_EPOCHS)
    return run_id, search.id


def p50_ms(call: Callable[[], Any], n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def run_polls(sessions: sessionmaker[Any], run_id: int, n: int) -> None:
    def follower(epoch: int) -> RunFollower:
        mark = f"{epoch}.0.running"
        return RunFollower(
            sessions, project_id=DEFAULT_PROJECT_ID, run_id=run_id, last_event_id=mark
        )

    idle, behind, catching_up = follower(LONG_RUN_EPOCHS), follower(0), follower(0)

    def one_new_epoch() -> None:
        behind.mark = RunMark(LONG_RUN_EPOCHS - 1, "running", 0)
        assert len(behind.poll().sent) == 1

    def five_hundred() -> None:
        catching_up.mark = RunMark(50_000, "running", 0)
        assert len(catching_up.poll().sent) == 500

    label = f"run of {LONG_RUN_EPOCHS:,} epochs"
    print(f"  {label}: idle poll       p50 {p50_ms(idle.poll, n):7.2f} ms")
    print(f"  {label}: one new epoch   p50 {p50_ms(one_new_epoch, n):7.2f} ms")
    print(f"  {label}: 500 epochs read p50 {p50_ms(five_hundred, n // 4):7.2f} ms")


def experiment_polls(sessions: sessionmaker[Any], experiment_id: int, n: int) -> None:
    follower = ExperimentFollower(
        sessions, project_id=DEFAULT_PROJECT_ID, experiment_id=experiment_id, last_event_id=None
    )
    start = time.perf_counter()
    while (batch := follower.poll()).more:
        pass
    catch_up = time.perf_counter() - start
    caught_up = dict(follower.marks)

    def rescan() -> None:
        follower.configurations = -1  # as after a search started a configuration
        follower.poll()

    def sixty_four_epochs() -> None:
        follower.marks.update(
            {r: RunMark(SEARCH_EPOCHS - 1, "running", 0) for r in follower.run_ids[:TRAINING]}
        )
        assert len(follower.poll().sent) == TRAINING

    size = len(PollIds(caught_up).end())
    label = f"search of {SEARCH_RUNS:,} runs ({TRAINING} training)"
    print(f"  {label}: first replay of every event {catch_up:6.2f} s ({size} B id after)")
    print(f"  {label}: idle poll     p50 {p50_ms(follower.poll, n):7.2f} ms")
    print(f"  {label}: {TRAINING} new epochs p50 {p50_ms(sixty_four_epochs, n):7.2f} ms")
    print(f"  {label}: full rescan   p50 {p50_ms(rescan, n // 4):7.2f} ms")
    assert not batch.ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    for kind in kinds:
        with tempfile.TemporaryDirectory() as home, store_url(kind, Path(home)) as url:
            engine = make_engine(url)
            sessions = make_sessionmaker(engine)
            run_id, experiment_id = seed(sessions)
            print(f"[{kind}]")
            run_polls(sessions, run_id, args.n)
            experiment_polls(sessions, experiment_id, args.n)
            engine.dispose()


if __name__ == "__main__":
    os.environ.setdefault("REGLAB_HOME", tempfile.mkdtemp(prefix="reglab-events-bench-"))
    main()
