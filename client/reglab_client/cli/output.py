"""What the CLI prints: tables for people, JSON for scripts, errors without tracebacks."""

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reglab_client.errors import ApiError, ReglabError, reason_phrase
from reglab_client.types import RunError

T = TypeVar("T")
WIDE = 160  # columns of a table sent to a pipe or a log, which have no width of their own


def _console(stderr: bool) -> Console:
    """A console whose long lines stay one line (greps, logs) and whose tables fit a terminal,
    or are laid out WIDE when there is none (80 columns would cut their cells)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else WIDE
    return Console(stderr=stderr, soft_wrap=True, width=width)


out = _console(stderr=False)
# Progress, notes and errors: on stderr, so that `--json` output on stdout stays parseable.
err = _console(stderr=True)
STATUS_STYLES = {
    "queued": "dim",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "yellow",
    "pruned": "magenta",
}
# The summary figures tables show, with their (short) headers.
SUMMARY_COLUMNS = {"test_acc": "test_acc", "best_val_acc": "best_val", "generalization_gap": "gap"}


def emit_json(data: Any) -> None:
    """JSON on stdout, as the API sent it (no colours, no wrapping)."""
    typer.echo(json.dumps(data, indent=2))


def emit(data: T, as_json: bool, human: Callable[[T], object]) -> None:
    """The API's JSON for scripts (`--json`), else what `human` prints of it."""
    if as_json:
        emit_json(data)
    else:
        human(data)


def number(value: Any, digits: int = 4) -> str:
    """A figure for a table; `-` for a missing one."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # counts the summary holds as floats (n_params, best_epoch)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e4 else f"{value:.{digits}f}"
    return str(value)


def plain(value: Any) -> str:
    """User text (a name, a spec value) for a table cell: shown as is, never read as markup."""
    return escape(value if isinstance(value, str) else json.dumps(value))


def status(name: str) -> str:
    """A run status, coloured."""
    return f"[{STATUS_STYLES.get(name, '')}]{name}[/]"


def _numeric(cells: Sequence[str]) -> bool:
    """A column of numbers (and `-` for missing ones), right-aligned."""
    figures = [cell for cell in cells if cell != "-"]
    return bool(figures) and all(c.lstrip("-").replace(".", "", 1).isdigit() for c in figures)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table of cells (markup text; other values as numbers)."""
    grid = Table(title=title, title_justify="left", header_style="bold")
    cells = [[cell if isinstance(cell, str) else number(cell) for cell in row] for row in rows]
    for index, name in enumerate(columns):
        numeric = _numeric([row[index] for row in cells])
        grid.add_column(name, justify="right" if numeric else "left")
    for row in cells:
        grid.add_row(*row)
    return grid


def fields(title: str, pairs: Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of named values."""
    grid = Table(title=title, title_justify="left", show_header=False, box=None)
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in pairs:
        grid.add_row(name, value if isinstance(value, str) else number(value))
    return grid


def error_text(error: RunError) -> str:
    """Why a run failed: its kind, epoch and message."""
    where = f" at epoch {error['epoch']}" if error["epoch"] is not None else ""
    return f"{error['type']}{where}: {error['message']}"


def note_truncated(shown: int, total: int | None, what: str) -> None:
    """Say so when a list shows fewer than every match: nothing is cut off silently."""
    if total is not None and total > shown:
        err.print(f"{shown} of {total} {what} shown: --limit {total} for all")


def describe(exc: ReglabError) -> str:
    """An error as one message: the status and each of the API's reasons."""
    if isinstance(exc, ApiError) and exc.errors:
        reasons = "".join(f"\n  {item}" for item in exc.errors)
        return f"{exc.status} {reason_phrase(exc.status)}{reasons}"
    return str(exc)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error on stderr; the exception that ends the command with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)
