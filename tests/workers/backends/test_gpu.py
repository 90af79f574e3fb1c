"""CUDA path of every backend; each case skips on machines where that backend sees no GPU."""

from collections.abc import Mapping

import pytest

from tests.factories import make_spec
from workers.backends import BACKEND_MODULES
from workers.runner import train

pytestmark = pytest.mark.gpu


def sees_gpu(backend: str) -> bool:
    """Whether `backend`'s framework finds a GPU in this process."""
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    tf = pytest.importorskip("tensorflow")
    return bool(tf.config.list_physical_devices("GPU"))


def curves(backend: str, device: str) -> tuple[dict[int, Mapping[str, float]], dict[str, float]]:
    spec = make_spec(
        backend=backend,
        device=device,
        dataset={"name": "digits", "n_samples": None},
        regularization={"batchnorm": True, "l2": 1e-4, "weight_decay": 1e-3},
        training={"epochs": 3},
    )
    seen: dict[int, Mapping[str, float]] = {}
    outcome = train(spec, threads=1, on_epoch=lambda epoch, values: seen.setdefault(epoch, values))
    return seen, outcome.summary


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_cuda_run_trains_and_matches_cpu(backend: str) -> None:
    if not sees_gpu(backend):
        pytest.skip(f"{backend} sees no GPU")
    gpu, gpu_summary = curves(backend, "cuda")
    cpu, _ = curves(backend, "cpu")
    assert gpu_summary["test_acc"] > 0.8
    for epoch in (1, 3):
        assert gpu[epoch]["train_loss"] == pytest.approx(cpu[epoch]["train_loss"], rel=1e-3)
