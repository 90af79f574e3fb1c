"""`--follow`: each run's progress (epochs, the objective, ETA), fed by the event stream.

On a terminal, a live bar per run; otherwise (a pipe, a CI log) one line per event.
"""

from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from reglab_client.cli.output import err, error_text, number, status
from reglab_client.client import Client
from reglab_client.events import EpochEvent, Event, StatusEvent
from reglab_client.types import TERMINAL


class Board:
    """The runs of one experiment as its events tell them."""

    def __init__(self, client: Client, objective: str) -> None:
        self._client, self._objective = client, objective
        self._totals: dict[int, int] = {}  # run id -> epochs it is set to train
        self._tasks: dict[int, TaskID] = {}
        self._live = err.is_terminal
        self._progress = Progress(
            TextColumn("run {task.fields[run]}"),
            TextColumn("{task.fields[status]}", markup=True),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[value]}"),
            TimeRemainingColumn(),
            console=err,
            disable=not self._live,
        )

    def __enter__(self) -> "Board":
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def show(self, event: Event) -> None:
        """Draw one event: a run's status or epoch (the end is the caller's)."""
        if isinstance(event, StatusEvent):
            self._status(event)
        elif isinstance(event, EpochEvent):
            self._epoch(event)

    def _total(self, run_id: int) -> int:
        """The epochs the run is set to train, read once from its resolved spec."""
        if run_id not in self._totals:
            spec = self._client.runs.get(run_id)["spec"]
            self._totals[run_id] = int(spec["training"]["epochs"])
        return self._totals[run_id]

    def _task(self, run_id: int) -> TaskID:
        if run_id not in self._tasks:
            self._tasks[run_id] = self._progress.add_task(
                "", total=self._total(run_id), start=False, run=run_id, status="", value=""
            )
        return self._tasks[run_id]

    def _status(self, event: StatusEvent) -> None:
        task, label = self._task(event.run_id), status(event.status)
        if not self._live:
            note = f" (attempt {event.attempt})" if event.status == "running" else ""
            why = f": {error_text(event.error)}" if event.error else ""
            err.print(f"run {event.run_id}: {label}{note}{why}")
        if event.status == "running":
            self._progress.start_task(task)
        if event.status in TERMINAL:
            done = event.epochs_done
            total = done if event.status == "succeeded" else self._total(event.run_id)
            self._progress.update(task, total=total, completed=done)
            self._progress.stop_task(task)
        self._progress.update(task, status=label)

    def _epoch(self, event: EpochEvent) -> None:
        name = self._objective if self._objective in event.metrics else "val_acc"
        value = f"{name} {number(event.metrics.get(name))}"
        self._progress.update(self._task(event.run_id), completed=event.epoch, value=value)
        if not self._live:
            total = self._total(event.run_id)
            err.print(f"run {event.run_id}: epoch {event.epoch}/{total} {value}", highlight=False)


def follow_experiment(client: Client, experiment_id: int, objective: str) -> None:
    """Show every run of the experiment until its end (at once if it had ended)."""
    with Board(client, objective) as board:
        for event in client.experiments.events(experiment_id):
            board.show(event)
