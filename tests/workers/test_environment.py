"""A run records the environment it trained in: framework and version, device, host, versions."""

import platform
import socket
from importlib.metadata import version
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import sessionmaker

from models.store.tables import RunStatus
from tests.factories import run_to_end


def framework_of(backend: str) -> tuple[dict[str, str], str]:
    """The versions the backend's framework reports of itself, and the device a run gets."""
    if backend == "torch":
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        return {"framework_version": str(torch.__version__)}, device
    tf = pytest.importorskip("tensorflow")
    import keras

    gpu = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpu[0])["device_name"] if gpu else "cpu"
    return {"framework_version": tf.__version__, "keras_version": keras.__version__}, device


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_a_finished_run_names_its_framework_device_host_and_versions(
    sessions: sessionmaker[Any], backend: str
) -> None:
    versions, device = framework_of(backend)
    run = run_to_end(sessions, backend=backend, training={"epochs": 1})
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.environment == {
        "framework": backend,
        **versions,
        "device": device,
        "host": socket.gethostname(),
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "reglab_version": version("reglab"),
        "threads": 1,
    }
