"""`reglab submit`: POST a spec file (JSON or YAML), optionally a search, and follow it."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from reglab_client.cli.base import app, connect
from reglab_client.cli.experiments import objective, progress_text
from reglab_client.cli.output import emit, err, fail, out
from reglab_client.cli.results import finish

ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


def read_document(path: Path) -> Any:
    """A JSON or YAML file's content (YAML for .yaml and .yml)."""
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise fail(f"{path}: {exc}") from None


def request_body(spec_file: Path, search_file: Path | None, name: str | None) -> dict[str, Any]:
    """The experiment to POST: the file holds a whole request ({name, spec, search}) as in
    examples/, or a spec alone (named after the file unless --name)."""
    document = read_document(spec_file)
    if not isinstance(document, dict):
        raise fail(f"{spec_file}: expected an object (a spec, or {{name, spec, search}})")
    body = dict(document) if "spec" in document else {"spec": document}
    body["name"] = name or body.get("name") or spec_file.stem
    if search_file is not None:
        body["search"] = read_document(search_file)
    return body


@app.command()
def submit(
    spec: ExistingFile,
    search: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="A search (JSON or YAML) to run over it."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The experiment's name.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Show each run's progress until all have ended.")
    ] = False,
    json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the experiment's JSON; with --follow, its runs' at the end."
        ),
    ] = False,
) -> None:
    """Submit an experiment. With --follow, exit 1 if any run failed or was cancelled."""
    body = request_body(spec, search, name)
    with connect() as client:
        experiment = client.experiments.submit(body["name"], body["spec"], body.get("search"))
        if follow:
            err.print(f"experiment {experiment['id']}: {progress_text(experiment)}")
            code = finish(client, experiment["id"], objective(experiment), as_json=json)
            raise typer.Exit(code)
        emit(experiment, json, lambda e: out.print(f"experiment {e['id']}: {progress_text(e)}"))
