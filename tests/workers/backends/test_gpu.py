"""CUDA path of every backend; each case skips on machines where that backend sees no GPU."""

from collections.abc import Mapping
from pathlib import Path

import pytest

from models.blobs import BlobStore
from tests.factories import EpochLog, make_spec
from tests.workers.test_resume import ADAM, assert_same_epochs, attempt, regularized
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
    log = EpochLog()
    outcome = train(spec, threads=1, hooks=log)
    return log.epochs, outcome.summary


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_cuda_run_trains_and_matches_cpu(backend: str) -> None:
    if not sees_gpu(backend):
        pytest.skip(f"{backend} sees no GPU")
    gpu, gpu_summary = curves(backend, "cuda")
    cpu, cpu_summary = curves(backend, "cpu")
    assert gpu_summary["test_acc"] > 0.5  # ten classes; 3 epochs of SGD reach ~0.65
    assert gpu_summary["test_acc"] == pytest.approx(cpu_summary["test_acc"], abs=0.02)
    for epoch in (1, 3):
        assert gpu[epoch]["train_loss"] == pytest.approx(cpu[epoch]["train_loss"], rel=1e-3)


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_cuda_run_resumes_on_cuda_and_on_cpu(backend: str, tmp_path: Path) -> None:
    if not sees_gpu(backend):
        pytest.skip(f"{backend} sees no GPU")
    spec = regularized(backend, ADAM, epochs=6, device="cuda")
    whole = attempt(spec, None)
    gpu_blobs, moved_blobs = BlobStore(str(tmp_path / "gpu")), BlobStore(str(tmp_path / "moved"))
    attempt(spec, gpu_blobs, stop_after=4)
    resumed = attempt(spec, gpu_blobs)
    assert resumed.resumed == [3] and sorted(resumed.epochs) == [4, 5, 6]
    assert_same_epochs(resumed.epochs, whole)  # the CUDA dropout generator is restored too
    # A checkpoint taken on the GPU continues on a CPU worker (a run with device "auto" may
    # move; one run, so one identity). Dropout masks come from the CPU generator there, so
    # the curves go their own way, but from the trained weights: epoch 4 is near the GPU
    # run's, far below epoch 1.
    attempt(spec, moved_blobs, stop_after=4, identity="auto run")
    cpu_spec = regularized(backend, ADAM, epochs=6, device="cpu")
    on_cpu = attempt(cpu_spec, moved_blobs, identity="auto run")
    assert on_cpu.resumed == [3] and sorted(on_cpu.epochs) == [4, 5, 6]
    moved_loss, gpu_loss = on_cpu.epochs[4]["train_loss"], whole.epochs[4]["train_loss"]
    assert moved_loss == pytest.approx(gpu_loss, rel=0.15)
    assert moved_loss < 0.5 * whole.epochs[1]["train_loss"]
