"""CUDA path of the torch backend; skipped on machines without a GPU."""

from collections.abc import Mapping

import pytest
import torch

from tests.factories import make_spec
from workers.runner import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def curves(device: str) -> tuple[dict[int, Mapping[str, float]], dict[str, float]]:
    spec = make_spec(
        device=device,
        dataset={"name": "digits", "n_samples": None},
        regularization={"batchnorm": True, "l2": 1e-4, "weight_decay": 1e-3},
        training={"epochs": 3},
    )
    seen: dict[int, Mapping[str, float]] = {}
    outcome = train(spec, threads=1, on_epoch=lambda epoch, values: seen.setdefault(epoch, values))
    return seen, outcome.summary


def test_cuda_run_trains_and_matches_cpu() -> None:
    gpu, gpu_summary = curves("cuda")
    cpu, _ = curves("cpu")
    assert gpu_summary["test_acc"] > 0.8
    for epoch in (1, 3):
        assert gpu[epoch]["train_loss"] == pytest.approx(cpu[epoch]["train_loss"], rel=1e-3)
