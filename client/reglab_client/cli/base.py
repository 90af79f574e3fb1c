"""The `reglab` command's root, and the client every command talks through."""

import typer

from reglab_client.cli.config import Config, load
from reglab_client.client import Client

app = typer.Typer(
    name="reglab",
    help="Train, watch and compare regularization experiments on a reglab API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # errors are printed as the API's message (see main)
    add_completion=False,
)


def connect(config: Config | None = None) -> Client:
    """A client of the API that `config` names, else $REGLAB_URL/$REGLAB_API_KEY or
    `reglab login`'s file."""
    chosen = config or load()
    return Client(chosen.url, chosen.api_key)
