"""Weights exported under neutral names predict the same on every backend and in plain numpy.

Each case trains on one backend, writes the artifacts (`model.safetensors`, `model.json`) as a
worker does, loads the weights into a fresh trainer of each backend and runs
`examples/predict_numpy.py` on the raw inputs: every set of logits agrees within 1e-5.
"""

import importlib.util
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from safetensors import safe_open
from safetensors.numpy import load

from models.spec import ExperimentSpec
from models.spec.resolve import plan_for
from models.store.datasets import DatasetRef
from tests.conftest import ROOT
from tests.factories import make_spec
from tests.workers.backends.images import rgb_arrays
from workers.artifacts import MANIFEST, WEIGHTS, TrainedModel, artifact_bytes
from workers.backends import BACKEND_MODULES, get_backend
from workers.backends.base import Trainer
from workers.backends.layout import FORMAT, expected_shapes
from workers.datasets import DatasetArrays, load_dataset
from workers.datasets.generators import generate
from workers.init_weights import initial_weights
from workers.runner import train

pytest.importorskip("tensorflow")

TOLERANCE = 1e-5
DIGITS = {"name": "digits", "n_samples": None, "train_limit": 240}
CASES: dict[str, dict[str, Any]] = {
    "mlp-bn-gelu": {
        "dataset": DIGITS,
        "model": {"kind": "mlp", "hidden": [16, 8], "activation": "gelu"},
        "regularization": {"batchnorm": True, "dropout": 0.2},
    },
    "mlp-sigmoid": {
        "dataset": {"name": "blobs", "n_samples": 300, "n_classes": 3, "n_features": 4},
        "model": {"kind": "mlp", "hidden": [8], "activation": "sigmoid"},
    },
    "cnn2d-bn-maxpool": {
        "dataset": DIGITS,
        "model": {"kind": "cnn", "channels": [4, 6], "hidden": [12], "pool": "max"},
        "regularization": {"batchnorm": True, "dropout": 0.1},
    },
    "cnn1d-avgpool-elu": {
        "dataset": {"name": "classification", "n_samples": 300, "n_features": 13},
        "model": {"kind": "cnn", "channels": [3], "hidden": [], "pool": "avg", "activation": "elu"},
        "regularization": {"batchnorm": True},
    },
    "cnn2d-rgb-tanh": {
        "dataset": DIGITS,  # its shape is replaced by the (3, 8, 6) images of `rgb_arrays`
        "model": {
            "kind": "cnn",
            "channels": [5],
            "hidden": [8],
            "pool": "max",
            "activation": "tanh",
        },
        "regularization": {"batchnorm": True},
    },
}


@dataclass(frozen=True)
class Run:
    """The run the artifacts are written for."""

    run_id: int
    spec: dict[str, Any]
    dataset: DatasetRef | None = None


def predict_numpy() -> ModuleType:
    """examples/predict_numpy.py as a module (examples/ is no package)."""
    location = importlib.util.spec_from_file_location(
        "predict_numpy", ROOT / "examples" / "predict_numpy.py"
    )
    assert location is not None and location.loader is not None
    module = importlib.util.module_from_spec(location)
    location.loader.exec_module(module)
    return module


def logits(trainer: Trainer, backend: str, x: NDArray[np.float32]) -> NDArray[np.float64]:
    """Eval-mode logits of a trainer's model."""
    model: Any = trainer.model
    if backend == "torch":
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy().astype(np.float64)
    return np.asarray(model(x, training=False), dtype=np.float64)


def raw_inputs(spec: ExperimentSpec, data: DatasetArrays) -> NDArray[Any]:
    """Unstandardized examples of the dataset: what a user would feed predict_numpy."""
    if data.mean is None:
        return data.test.x  # synthetic images, never standardized
    return generate(spec.dataset)[0][:200]


def trained(case: str, backend: str) -> tuple[ExperimentSpec, DatasetArrays, TrainedModel]:
    spec = make_spec(backend=backend, training={"epochs": 2, "batch_size": 32}, **CASES[case])
    data = rgb_arrays() if "rgb" in case else load_dataset(spec.dataset)
    outcome = train(spec, threads=2, data=data)
    assert outcome.model is not None
    return spec, data, outcome.model


@pytest.mark.parametrize("trained_on", sorted(BACKEND_MODULES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_predict_the_same_everywhere(case: str, trained_on: str) -> None:
    spec, data, model = trained(case, trained_on)
    files = artifact_bytes(Run(1, spec.model_dump(mode="json")), model)
    manifest, tensors = json.loads(files[MANIFEST][0]), load(files[WEIGHTS][0])
    plan = model.plan
    assert {k: v.shape for k, v in tensors.items()} == expected_shapes(plan)
    numpy_module = predict_numpy()
    raw = raw_inputs(spec, data)
    x = numpy_module.standardize(raw, manifest)
    if data.mean is not None:  # exactly what training saw: float32 of float64 arithmetic
        assert np.array_equal(x, ((raw - data.mean) / data.std).astype(np.float32))
    x32 = x.astype(np.float32)
    found = {"numpy": numpy_module.logits(x, manifest, tensors)}
    for backend in sorted(BACKEND_MODULES):
        trainer = get_backend(backend).create_trainer(
            plan, data, initial_weights(plan, 7), "cpu", 2
        )
        trainer.load_weights(tensors)
        assert all(np.array_equal(v, tensors[k]) for k, v in trainer.weights().items())
        found[backend] = logits(trainer, backend, x32)
    reference = found[trained_on]
    deviations = {name: float(np.abs(z - reference).max()) for name, z in found.items()}
    print(
        f"{case} trained on {trained_on}: max |logit| {np.abs(reference).max():.3g}, {deviations}"
    )
    assert max(deviations.values()) <= TOLERANCE, deviations
    names, probabilities = numpy_module.predict(raw, manifest, tensors)
    assert names == [manifest["class_names"][k] for k in reference.argmax(axis=1)]
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_safetensors_header_names_the_format_and_the_framework(tmp_path: Any) -> None:
    _, _, model = trained("mlp-sigmoid", "torch")
    path = tmp_path / WEIGHTS
    path.write_bytes(artifact_bytes(Run(1, make_spec().model_dump(mode="json")), model)[WEIGHTS][0])
    with safe_open(str(path), framework="numpy") as handle:
        meta = handle.metadata()
    assert meta["format"] == FORMAT and meta["framework"] == "torch"
    assert meta["layout"].startswith("channels-first")


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_misfit_weights_are_refused_by_name(backend: str) -> None:
    spec = make_spec(backend=backend, **CASES["mlp-sigmoid"])
    data = load_dataset(spec.dataset)
    plan = plan_for(spec, data.shape)
    trainer = get_backend(backend).create_trainer(plan, data, initial_weights(plan, 0), "cpu", 1)
    weights, name = trainer.weights(), "layers.0.dense.kernel"
    with pytest.raises(ValueError, match=rf"{name} has shape \(4, 8\), expected \(8, 4\)"):
        trainer.load_weights({**weights, name: weights[name].T})
    with pytest.raises(ValueError, match=name):
        trainer.load_weights({k: v for k, v in weights.items() if k != name})
