"""Backend registry: one line per framework; modules are imported only when a run needs them."""

import importlib
from typing import cast

from workers.backends.base import BackendModule

BACKEND_MODULES = {
    "torch": "workers.backends.torch_backend",
    "tensorflow": "workers.backends.tensorflow_backend",
}


def get_backend(name: str) -> BackendModule:
    """Import and return the backend module registered under `name`."""
    return cast(BackendModule, importlib.import_module(BACKEND_MODULES[name]))
