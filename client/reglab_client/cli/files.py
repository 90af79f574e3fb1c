"""`reglab datasets` and `reglab artifacts`: files into and out of the API."""

from itertools import islice
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import typer

from reglab_client.cli.base import connect
from reglab_client.cli.output import emit, fail, note_truncated, out, plain, table
from reglab_client.cli.runs import Json, Limit, when
from reglab_client.datasets import Format
from reglab_client.types import Dataset

datasets_app = typer.Typer(help="Upload and list datasets.", no_args_is_help=True)
artifacts_app = typer.Typer(help="Download what runs leave behind.", no_args_is_help=True)


def shape_text(shape: list[int]) -> str:
    """An example's shape: 8x8."""
    return "x".join(map(str, shape))


def show_dataset(dataset: Dataset) -> None:
    """What an upload holds."""
    shape = shape_text(dataset["input_shape"])
    out.print(
        f"dataset {plain(dataset['name'])} version {dataset['version']} (id {dataset['id']}): "
        f"{dataset['n_examples']} examples of shape {shape}, {dataset['n_classes']} classes"
    )


def show_datasets(listing: dict[str, Any]) -> None:
    """The built-in datasets and the uploaded versions, a table each."""
    builtin, uploaded = listing["builtin"], listing["uploaded"]
    rows = [
        [d["name"], shape_text(d["input_shape"]), str(d["n_classes"]), str(d["n_samples"])]
        for d in builtin
    ]
    out.print(table("built-in", ["name", "input shape", "classes", "samples"], rows))
    rows = [
        [str(d["id"]), plain(d["name"]), str(d["version"]), d["format"], str(d["n_examples"]),
         str(d["n_classes"]), d["sha256"][:12], when(d["created_at"])]
        for d in uploaded
    ]  # fmt: skip
    columns = ["id", "name", "version", "format", "examples", "classes", "sha256", "uploaded"]
    out.print(table("uploaded", columns, rows))


@datasets_app.command("push")
def push(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    name: Annotated[str, typer.Option(help="The dataset's name: a spec's dataset.name.")],
    format: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(get_args(Format))}; from the file's suffix if omitted."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="CSV/Parquet: the label column.")] = None,
    json: Json = False,
) -> None:
    """Upload a file as the next version of a dataset (the same bytes: the version holding them)."""
    if format is not None and format not in get_args(Format):
        raise fail(f"--format: one of {', '.join(get_args(Format))}")
    with connect() as client:
        try:
            dataset = client.datasets.upload(
                file, name, format=cast(Format | None, format), label=label
            )
        except ValueError as exc:  # no format given, and the suffix names none
            raise fail(str(exc)) from None
    emit(dataset, json, show_dataset)


@datasets_app.command("ls")
def list_datasets(limit: Limit = 50, json: Json = False) -> None:
    """The built-in datasets and the project's uploaded versions, newest first."""
    with connect() as client:
        builtin = client.datasets.builtin()
        pager = client.datasets.list()
        uploaded = list(islice(pager, limit))
    emit({"builtin": builtin, "uploaded": uploaded}, json, show_datasets)
    note_truncated(len(uploaded), pager.total, "uploaded datasets")


@artifacts_app.command("pull")
def pull(
    run_id: int,
    folder: Annotated[Path | None, typer.Argument(help="Where to (default: ./run-<id>).")] = None,
) -> None:
    """Download a run's weights and manifest, each checked against its sha256."""
    target = folder or Path(f"run-{run_id}")
    with connect() as client:
        paths = client.artifacts.download(run_id, target)
    if not paths:
        raise fail(f"run {run_id} has no artifacts (yet: they are stored when it ends)")
    for path in paths:
        out.print(f"{plain(str(path))} ({path.stat().st_size} bytes)")
