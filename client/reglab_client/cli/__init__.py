"""The `reglab` command (Typer and Rich): submit, follow, list, compare, move files."""

import sys

from reglab_client.cli import analysis, login, submit  # noqa: F401 (they register commands)
from reglab_client.cli.base import app
from reglab_client.cli.experiments import experiments_app
from reglab_client.cli.files import artifacts_app, datasets_app
from reglab_client.cli.output import describe, fail
from reglab_client.cli.runs import runs_app
from reglab_client.errors import ReglabError

app.add_typer(runs_app, name="runs")
app.add_typer(experiments_app, name="experiments")
app.add_typer(datasets_app, name="datasets")
app.add_typer(artifacts_app, name="artifacts")


def main() -> None:
    """Run a command: an API's refusal, an unreachable API or a file that cannot be written
    is a message and exit 1, not a traceback."""
    try:
        app()
    except ReglabError as exc:
        sys.exit(fail(describe(exc)).exit_code)
    except OSError as exc:  # --plot FILE, an artifacts folder: full disk, no permission
        where = f"{exc.filename}: " if exc.filename else ""
        sys.exit(fail(f"{where}{exc.strerror or exc}").exit_code)
