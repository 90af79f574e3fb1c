"""A trained run's artifacts: neutral weights (safetensors) and a manifest, in the blob store.

`model.safetensors` holds the final weights, `best.safetensors` (restore_best) the best epoch's,
both under the names of `workers.backends.layout`; `model.json` says how to use them: the
plan, the resolved spec, the dataset, the class names, the input standardization and what the
run trained in. `examples/predict_numpy.py` predicts from them with numpy alone.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import save

from models.blobs import BlobStore
from models.spec.plan import Plan
from models.store.artifacts import ArtifactFile
from models.store.datasets import DatasetRef
from workers.backends.layout import FORMAT, LAYOUT, Tensors, metadata, op_kind

log = logging.getLogger(__name__)
MANIFEST_FORMAT = "reglab-model/1"
WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best.safetensors"
MANIFEST = "model.json"
SAFETENSORS_TYPE = "application/octet-stream"
JSON_TYPE = "application/json"
TENSOR_LAYOUT = {
    "format": FORMAT,
    "layout": LAYOUT,
    "names": "layers.<i>.<kind>.<param>: parameter <param> of plan.ops[i], of kind <kind>",
    "dense": "kernel (out, in); bias (out,) unless the layer has none",
    "conv": "kernel (out, in, *window); bias (out,) unless the layer has none",
    "batch_norm": "gamma, beta, running_mean, running_var (features,); eval mode uses "
    "(x - running_mean) / sqrt(running_var + eps) * gamma + beta over axis 1",
    "flatten": "channels-first: (C, *spatial) flattened in C order",
    "dtype": "float32",
}


@dataclass(frozen=True)
class TrainedModel:
    """What a run that trained leaves: its weights and what it takes to feed them inputs."""

    plan: Plan
    weights: Tensors  # the final weights
    best: Tensors | None  # restore_best: the best epoch's weights; None without it
    best_epoch: int | None
    environment: Mapping[str, Any]  # framework, versions, device, host
    mean: NDArray[np.float64] | None  # a new input v is fed as (v - mean) / std
    std: NDArray[np.float64] | None
    class_names: tuple[str, ...]


class RunInfo(Protocol):
    """The run the artifacts belong to: its id, resolved spec and uploaded dataset, if any."""

    @property
    def run_id(self) -> int:
        """The run's id."""
        ...

    @property
    def spec(self) -> Mapping[str, Any]:
        """The resolved spec it trained."""
        ...

    @property
    def dataset(self) -> DatasetRef | None:
        """The uploaded dataset version it trained on; None for built-in data."""
        ...


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON: each op as `{"op": kind, **fields}` in order."""
    return {
        "input_shape": list(plan.input_shape),
        "n_classes": plan.n_classes,
        "ops": [{"op": op_kind(op), **asdict(op)} for op in plan.ops],
        "loss": asdict(plan.loss),
        "penalty": asdict(plan.penalty),
        "decay": asdict(plan.decay),
        "max_norm": asdict(plan.max_norm),
        "input_noise": asdict(plan.input_noise),
        "mixup": asdict(plan.mixup),
        "optimizer": plan.optimizer.model_dump(mode="json"),
        "batch_size": plan.batch_size,
        "seed": plan.seed,
    }


def _dataset(run: RunInfo) -> dict[str, Any]:
    """Which data trained the model: the spec's dataset, and the uploaded version's hash."""
    params = dict(run.spec["dataset"])
    stored = run.dataset
    if stored is None:
        return {"source": "builtin", "name": params["name"], "params": params}
    return {
        "source": "uploaded",
        "name": stored.name,
        "version": stored.version,
        "sha256": stored.sha256,
        "format": stored.format,
        "label": stored.label or None,
        "params": params,
    }


def manifest(run: RunInfo, model: TrainedModel) -> dict[str, Any]:
    """`model.json`: everything besides the weights that a prediction or an audit needs."""
    shape = list(model.plan.input_shape)
    mean = model.mean if model.mean is not None else np.zeros(shape)
    std = model.std if model.std is not None else np.ones(shape)
    return {
        "format": MANIFEST_FORMAT,
        "run_id": run.run_id,
        "weights": {"final": WEIGHTS, "best": BEST_WEIGHTS if model.best else None},
        "best_epoch": model.best_epoch,
        "tensor_layout": TENSOR_LAYOUT,
        "plan": plan_json(model.plan),
        "spec": dict(run.spec),
        "dataset": _dataset(run),
        # Data without names (a test's arrays) names classes by index, as built-in data does.
        "class_names": list(model.class_names) or [str(k) for k in range(model.plan.n_classes)],
        "input": {"shape": shape, "mean": mean.tolist(), "std": std.tolist()},
        "environment": dict(model.environment),
        "reglab_version": model.environment.get("reglab_version"),
    }


def artifact_bytes(run: RunInfo, model: TrainedModel) -> dict[str, tuple[bytes, str]]:
    """Each artifact's content and media type, by name."""
    meta = metadata(str(model.environment.get("framework", "")))
    files = {WEIGHTS: (save(model.weights, metadata=meta), SAFETENSORS_TYPE)}
    if model.best is not None:
        files[BEST_WEIGHTS] = (save(model.best, metadata=meta), SAFETENSORS_TYPE)
    text = json.dumps(manifest(run, model), indent=1, allow_nan=False)
    files[MANIFEST] = (text.encode(), JSON_TYPE)
    return files


def store_artifacts(blobs: BlobStore, run: RunInfo, model: TrainedModel) -> list[ArtifactFile]:
    """Put the artifacts in the blob store (content-addressed); the rows to record them."""
    stored = []
    for name, (data, media_type) in artifact_bytes(run, model).items():
        ref = blobs.put_bytes(data)
        stored.append(ArtifactFile(name, ref.sha256, ref.size, media_type))
    return stored


def write_artifacts(
    blobs: BlobStore | None, run: RunInfo, model: TrainedModel | None
) -> list[ArtifactFile]:
    """Store a trained run's artifacts and return their rows; none without a store or model.

    A failed write is logged and leaves the run without artifacts: it still finishes with its
    status and summary, which matter more than files that can be trained again.
    """
    if blobs is None or model is None:
        return []
    try:
        return store_artifacts(blobs, run, model)
    except Exception:  # whatever the store raised, the run's result is written next
        log.exception("could not store the artifacts of run %s; it ends without them", run.run_id)
        return []
