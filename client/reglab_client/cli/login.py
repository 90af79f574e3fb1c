"""`reglab login`: check a URL and key against the API, then keep them for the next commands."""

import sys
from typing import Annotated

import typer

from reglab_client.cli.base import app, connect
from reglab_client.cli.config import Config, load, save
from reglab_client.cli.output import out


def _read_key() -> str:
    """The key typed at a hidden prompt, or the first line of standard input piped in."""
    if sys.stdin.isatty():
        return str(typer.prompt("API key", hide_input=True))
    if key := sys.stdin.readline().strip():
        return key
    raise typer.BadParameter("no key on standard input", param_hint="'--api-key'")


@app.command()
def login(
    url: Annotated[
        str | None, typer.Option(help="The API's URL (default: the current one).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="An API key, rl_... (other users see a command line: prefer the prompt, or "
            "the key on standard input). Asked for, hidden, when omitted."
        ),
    ] = None,
) -> None:
    """Check a key against the API and store it, with the URL, in an owner-only file
    ($REGLAB_CONFIG or ~/.config/reglab/config.toml); $REGLAB_URL/$REGLAB_API_KEY override it.
    Without --api-key the key is read from standard input when it is not a terminal:
    `reglab login < key-file`."""
    config = Config(url or load().url, api_key or _read_key())
    with connect(config) as client:
        page = client.experiments.list(page_size=1)
        next(iter(page), None)  # any authenticated read: a refused key raises here
    path = save(config)
    out.print(f"logged in to {config.url} ({page.total} experiments); saved in {path}")
