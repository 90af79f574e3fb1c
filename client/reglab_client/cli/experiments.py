"""`reglab experiments`: list, show, follow and cancel experiments."""

from itertools import islice

import typer
from rich.table import Table

from reglab_client.cli.base import connect
from reglab_client.cli.output import (
    emit,
    fields,
    note_truncated,
    number,
    out,
    plain,
    status,
    table,
)
from reglab_client.cli.results import finish
from reglab_client.cli.runs import Json, Limit, when
from reglab_client.types import Experiment

experiments_app = typer.Typer(
    help="List, show, follow and cancel experiments.", no_args_is_help=True
)


def progress_text(experiment: Experiment) -> str:
    """Its runs per status, the empty ones left out, with the runs still to come."""
    counts = [f"{n} {status(name)}" for name, n in experiment["progress"].items() if n]
    planned = experiment["runs_planned"] - len(experiment["runs"])
    return ", ".join(counts + ([f"{planned} to come"] if planned > 0 else [])) or "-"


def objective(experiment: Experiment) -> str:
    """What its runs are judged by as they train: the search's objective, else val_acc."""
    search = experiment["search"] or {}
    return str(search.get("objective", {}).get("metric", "val_acc"))


def experiments_table(experiments: list[Experiment]) -> Table:
    """Experiments as rows: name, runs per status, creation."""
    rows = [
        [str(e["id"]), plain(e["name"]), progress_text(e), when(e["created_at"])]
        for e in experiments
    ]
    return table(None, ["experiment", "name", "runs", "created"], rows)


def show_experiment(experiment: Experiment) -> None:
    """Its facts, its runs, and a search's best run so far."""
    best = experiment["best_run"]
    pairs = [
        ("name", plain(experiment["name"])),
        ("runs", progress_text(experiment)),
        ("created", when(experiment["created_at"])),
        ("best run", f"{best['run_id']} ({number(best['objective'])})" if best else "-"),
    ]
    out.print(fields(f"experiment {experiment['id']}", pairs))
    rows = [
        [str(r["id"]), status(r["status"]), str(r["seed"]), str(r["epochs_done"]),
         number(r["objective_value"])]
        for r in experiment["runs"]
    ]  # fmt: skip
    out.print(table(None, ["run", "status", "seed", "epochs", "objective"], rows))


@experiments_app.command("ls")
def list_experiments(limit: Limit = 50, json: Json = False) -> None:
    """List experiments, newest first, with their runs per status."""
    with connect() as client:
        pager = client.experiments.list()
        experiments = list(islice(pager, limit))
    emit(experiments, json, lambda listed: out.print(experiments_table(listed)))
    note_truncated(len(experiments), pager.total, "experiments")


@experiments_app.command("show")
def show(experiment_id: int, json: Json = False) -> None:
    """Show an experiment: its runs, and a search's best run so far."""
    with connect() as client:
        experiment = client.experiments.get(experiment_id)
    emit(experiment, json, show_experiment)


@experiments_app.command("follow")
def follow(experiment_id: int) -> None:
    """Watch an experiment's runs train until every one has ended; exit 1 if any failed."""
    with connect() as client:
        experiment = client.experiments.get(experiment_id)
        raise typer.Exit(finish(client, experiment_id, objective(experiment)))


@experiments_app.command("cancel")
def cancel(experiment_id: int, json: Json = False) -> None:
    """Cancel an experiment's queued and running runs; a search starts no more."""
    with connect() as client:
        experiment = client.experiments.cancel(experiment_id)
    emit(experiment, json, lambda e: out.print(f"experiment {experiment_id}: {progress_text(e)}"))
