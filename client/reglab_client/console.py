"""The `reglab` console script, installed with the library: the CLI if its extra is there."""

import sys

CLI_PACKAGES = {"typer", "rich", "yaml"}  # what the `cli` extra installs


def main() -> None:
    """Run the CLI, or say how to install it when only the library is installed."""
    try:
        from reglab_client.cli import main as cli
    except ModuleNotFoundError as exc:
        if exc.name not in CLI_PACKAGES:
            raise
        sys.exit(
            f"reglab: the CLI needs its extra ({exc.name} is missing): pip install "
            "'reglab-client[cli]' (from a checkout: pip install './client[cli]')"
        )
    cli()
