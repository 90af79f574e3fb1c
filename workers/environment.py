"""What a run trains in: its backend's framework and device, and this process's host and versions.

Framework-free: the backend's part comes from its trainer, in the worker's child process.
"""

import platform
import socket
from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import numpy as np

Environment = dict[str, str | int | None]


@cache
def _process() -> Environment:
    """The host and the versions of Python, numpy and reglab; fixed for the process's life."""
    try:
        reglab: str | None = version("reglab")
    except PackageNotFoundError:  # run from a source tree that was never installed
        reglab = None
    return {
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "reglab_version": reglab,
        "host": socket.gethostname(),
    }


def run_environment(backend: Mapping[str, str], threads: int) -> Environment:
    """The trainer's `environment()` (framework, versions, device) with host, versions, threads."""
    return {**backend, **_process(), "threads": threads}
