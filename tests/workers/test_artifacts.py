"""A run that trained leaves its weights and manifest in the blob store, recorded with its end."""

import json
import logging
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load
from sqlalchemy.orm import sessionmaker

from models import store
from models.blobs import BlobRef, BlobStore
from models.store.artifacts import list_artifacts
from models.store.tables import DEFAULT_PROJECT_ID, Run, RunStatus
from tests.conftest import ROOT
from tests.factories import IN_ONE_CONNECTION, create_run, make_spec
from workers.artifacts import BEST_WEIGHTS, MANIFEST, MANIFEST_FORMAT, WEIGHTS
from workers.execution import _result_of, execute_run
from workers.run_policy import Deadline
from workers.run_record import RunRecord, RunResult
from workers.runner import NoHooks, train


def run_with_artifacts(sessions: sessionmaker[Any], blobs: BlobStore, **sections: Any) -> Run:
    """Create a run of `make_spec(**sections)`, execute it keeping artifacts in `blobs`."""
    with sessions.begin() as session:
        run_id = create_run(session, make_spec(**sections)).id
    policy = replace(IN_ONE_CONNECTION, artifact_store=blobs)
    execute_run(run_id, sessions=sessions, threads=1, worker="test", policy=policy)
    with sessions() as session:
        run = store.get_run(session=session, project_id=DEFAULT_PROJECT_ID, run_id=run_id)
        assert run is not None
        return run


def stored(sessions: sessionmaker[Any], blobs: BlobStore, run_id: int) -> dict[str, bytes]:
    """The run's artifacts by name, read back from the blob store (sizes checked)."""
    with sessions() as session:
        rows = list_artifacts(session=session, run_id=run_id)
    files = {}
    for row in rows:
        with blobs.open(row.sha256) as handle:
            files[row.name] = handle.read()
        assert len(files[row.name]) == row.bytes
        expected = "application/json" if row.name.endswith(".json") else "application/octet-stream"
        assert row.media_type == expected
    return files


def test_succeeded_run_stores_weights_and_manifest(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    run = run_with_artifacts(sessions, blobs, regularization={"batchnorm": True})
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    files = stored(sessions, blobs, run.id)
    assert sorted(files) == [MANIFEST, WEIGHTS]
    manifest = json.loads(files[MANIFEST])
    assert manifest["format"] == MANIFEST_FORMAT and manifest["run_id"] == run.id
    assert manifest["spec"] == run.spec
    assert manifest["dataset"] == {
        "source": "builtin",
        "name": "moons",
        "params": run.spec["dataset"],
    }
    assert manifest["class_names"] == ["0", "1"]
    assert manifest["weights"] == {"final": WEIGHTS, "best": None}
    assert [op["op"] for op in manifest["plan"]["ops"]] == [
        "dense", "batch_norm", "activation", "dense"
    ]  # fmt: skip
    assert manifest["environment"] == run.environment
    assert len(manifest["input"]["mean"]) == 2 and all(s > 0 for s in manifest["input"]["std"])
    weights = load(files[WEIGHTS])
    assert {k: v.shape for k, v in weights.items()} == {
        "layers.0.dense.kernel": (16, 2),
        "layers.1.batch_norm.gamma": (16,),
        "layers.1.batch_norm.beta": (16,),
        "layers.1.batch_norm.running_mean": (16,),
        "layers.1.batch_norm.running_var": (16,),
        "layers.3.dense.kernel": (2, 16),
        "layers.3.dense.bias": (2,),
    }
    assert all(v.dtype == np.float32 for v in weights.values())


def test_restore_best_run_stores_the_best_weights_too(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    rule = {"metric": "val_loss", "patience": 50, "restore_best": True}
    run = run_with_artifacts(
        sessions, blobs, training={"epochs": 3, "early_stopping": rule}, backend="tensorflow"
    )
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    files = stored(sessions, blobs, run.id)
    assert sorted(files) == [BEST_WEIGHTS, MANIFEST, WEIGHTS]
    manifest = json.loads(files[MANIFEST])
    assert manifest["weights"]["best"] == BEST_WEIGHTS and 1 <= manifest["best_epoch"] <= 3
    best, final = load(files[BEST_WEIGHTS]), load(files[WEIGHTS])
    assert {k: v.shape for k, v in best.items()} == {k: v.shape for k, v in final.items()}
    assert manifest["environment"]["framework"] == "tensorflow"


def test_runs_that_did_not_train_store_nothing(sessions: sessionmaker[Any], tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    diverged = run_with_artifacts(
        sessions,
        blobs,
        optimizer={"name": "sgd", "lr": 10.0, "momentum": 0.99},
        model={"hidden": [64, 64]},
        training={"epochs": 30},
    )
    assert (diverged.status, diverged.error_type) == (RunStatus.FAILED, "diverged")
    assert stored(sessions, blobs, diverged.id) == {}
    assert not (tmp_path / "blobs" / "sha256").exists()


class BrokenStore(BlobStore):
    """A blob store whose writes fail, as an unreachable S3 endpoint's would."""

    def put_bytes(self, data: bytes) -> BlobRef:
        raise OSError("connection refused")


def test_failed_artifact_write_still_finishes_the_run(
    sessions: sessionmaker[Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blobs = BrokenStore(str(tmp_path / "blobs"))
    with caplog.at_level(logging.ERROR, logger="workers.artifacts"):
        run = run_with_artifacts(sessions, blobs)
    assert run.status == RunStatus.SUCCEEDED and run.summary is not None
    assert stored(sessions, blobs, run.id) == {}
    assert f"could not store the artifacts of run {run.id}" in caplog.text


class PruneAtTwo(NoHooks):
    """A search's pruner that ends the run after epoch 2."""

    def should_prune(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        return epoch == 2


def test_pruned_run_keeps_its_model() -> None:
    outcome = train(make_spec(training={"epochs": 5}), threads=1, hooks=PruneAtTwo())
    assert (outcome.stopped, outcome.stopped_at) == ("pruned", 2)
    assert outcome.model is not None and outcome.model.weights
    result = _result_of(outcome, Deadline(3600.0))
    assert result.status == RunStatus.PRUNED and result.model is outcome.model


# Runs the example as its command line does, then lists what it imported beyond numpy.
CLI = """
import runpy, sys
sys.argv = ["predict_numpy.py", *sys.argv[1:]]
try:
    runpy.run_path("examples/predict_numpy.py", run_name="__main__")
finally:
    tops = {name.split(".")[0] for name in sys.modules}
    print("imported:", sorted(tops & {"torch", "tensorflow", "keras", "models", "workers", "api"}))
"""


def test_predict_numpy_command_line_on_a_stored_run(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    run = run_with_artifacts(sessions, blobs, regularization={"batchnorm": True, "dropout": 0.2})
    for name, data in stored(sessions, blobs, run.id).items():
        (tmp_path / name).write_bytes(data)
    np.save(tmp_path / "inputs.npy", np.array([[-1.0, 0.5], [2.0, 0.0], [0.0, 0.2]]))
    args = [str(tmp_path / n) for n in (WEIGHTS, MANIFEST, "inputs.npy")]
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    *lines, imported = done.stdout.splitlines()
    assert imported == "imported: []"
    rows = [line.split("\t") for line in lines]
    assert [row[0] for row in rows] == ["0", "1", "2"]
    assert all(row[1] in ("0", "1") and 0.5 <= float(row[2]) <= 1.0 for row in rows)


def test_artifacts_of_a_run_that_ended_elsewhere_are_removed(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    with sessions.begin() as session:
        run_id = create_run(session, make_spec()).id
    record = RunRecord.claim(
        run_id, sessions=sessions, worker="test", lease_seconds=60, retry_seconds=1
    )
    assert record is not None
    outcome = train(make_spec(), threads=1)
    with sessions.begin() as session:  # cancelled while its worker wrote the artifacts
        store.cancel_runs(session=session, project_id=DEFAULT_PROJECT_ID, where=Run.id == run_id)
    result = RunResult(RunStatus.SUCCEEDED, summary=outcome.summary, model=outcome.model)
    assert record.finish(result, None, {}, blobs) is False
    assert stored(sessions, blobs, run_id) == {}
    assert [p for p in (tmp_path / "blobs" / "sha256").rglob("*") if p.is_file()] == []
