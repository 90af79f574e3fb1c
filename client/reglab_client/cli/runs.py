"""`reglab runs`: find runs with the filter language, show one, cancel one."""

from collections.abc import Iterable
from itertools import islice
from typing import Annotated, Any

import typer
from rich.table import Table

from reglab_client.cli.base import connect
from reglab_client.cli.output import (
    SUMMARY_COLUMNS,
    emit,
    error_text,
    fields,
    note_truncated,
    number,
    out,
    plain,
    status,
    table,
)
from reglab_client.types import Run

runs_app = typer.Typer(help="Find, show and cancel runs.", no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
Limit = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many.")]


def when(stamp: str | None) -> str:
    """An API time (ISO 8601, UTC) to the minute."""
    return stamp.replace("T", " ")[:16] if stamp else "-"


def epochs(run: Run) -> str:
    """Epochs done of the epochs set."""
    return f"{run['epochs_done']}/{run['spec']['training']['epochs']}"


def runs_table(runs: Iterable[Run], title: str | None = None) -> Table:
    """Runs as rows: status, progress and the main summary figures."""
    rows = [
        [
            str(run["id"]),
            str(run["experiment_id"]),
            status(run["status"]),
            run["backend"],
            epochs(run),
            *(number((run["summary"] or {}).get(name)) for name in SUMMARY_COLUMNS),
            when(run["created_at"]),
        ]
        for run in runs
    ]
    columns = ["run", "exp", "status", "backend", "epochs", *SUMMARY_COLUMNS.values(), "created"]
    return table(title, columns, rows)


def error_line(run: Run) -> str | None:
    """Why a failed run failed, in one line."""
    error = run["error"]
    return f"run {run['id']} {run['status']}: {error_text(error)}" if error else None


@runs_app.command("ls")
def list_runs(
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter", "-f", help='e.g. "summary.test_acc > 0.9 and spec.regularization.l2 > 0"'
        ),
    ] = None,
    order_by: Annotated[
        str | None, typer.Option("--order-by", "-o", help="e.g. 'summary.test_acc desc'")
    ] = None,
    experiment: Annotated[
        int | None, typer.Option("--experiment", "-e", help="Only this experiment's runs.")
    ] = None,
    limit: Limit = 50,
    json: Json = False,
) -> None:
    """List runs, newest first unless --order-by; the filter language is GET /runs's."""
    with connect() as client:
        pager = client.runs.list(filter=filter, order_by=order_by, experiment_id=experiment)
        runs = list(islice(pager, limit))
    emit(runs, json, lambda listed: out.print(runs_table(listed)))
    note_truncated(len(runs), pager.total, "runs")


def _pairs(run: Run) -> list[tuple[str, Any]]:
    return [
        ("status", status(run["status"])),
        ("experiment", run["experiment_id"]),
        ("backend", f"{run['backend']} ({run['spec']['device']})"),
        ("seed", run["seed"]),
        ("epochs", epochs(run)),
        ("attempts", run["attempts"]),
        ("worker", plain(run["worker"] or "-")),
        ("created", when(run["created_at"])),
        ("started", when(run["started_at"])),
        ("finished", when(run["finished_at"])),
        ("waiting for", plain(run["waiting_for"] or "-")),
    ]


def show_run(run: Run) -> None:
    """A run's facts, its summary and its error."""
    out.print(fields(f"run {run['id']}", _pairs(run)))
    if run["summary"]:
        out.print(fields("summary", sorted(run["summary"].items())))
    if line := error_line(run):
        out.print(plain(line), style="red")


@runs_app.command("show")
def show(run_id: int, json: Json = False) -> None:
    """Show a run: status, progress, summary, error (--json: also its resolved spec)."""
    with connect() as client:
        run = client.runs.get(run_id)
    emit(run, json, show_run)


@runs_app.command("cancel")
def cancel(run_id: int, json: Json = False) -> None:
    """Cancel a queued or running run."""
    with connect() as client:
        run = client.runs.cancel(run_id)
    emit(run, json, lambda r: out.print(f"run {run_id}: {status(r['status'])}"))
