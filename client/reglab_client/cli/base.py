"""The `reglab` command's root, and the client every command talks through."""

import typer

from reglab_client.cli.config import load
from reglab_client.client import Client

app = typer.Typer(
    name="reglab",
    help="Train, watch and compare regularization experiments on a reglab API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # errors are printed as the API's message (see main)
    add_completion=False,
)


def connect() -> Client:
    """A client of the API that $REGLAB_URL/$REGLAB_API_KEY or `reglab login` name."""
    config = load()
    return Client(config.url, config.api_key)
