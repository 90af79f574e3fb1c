"""Uploaded datasets in the worker: read from the blob store, split and trained like built-ins."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sqlalchemy.orm import Session, sessionmaker

from models.blobs import blob_store
from models.ingest import get_ingest_limits, inspect_dataset
from models.spec import DatasetSpec
from models.store.datasets import DatasetRef, next_dataset_version
from models.store.tables import DEFAULT_PROJECT_ID, Dataset, Run, RunStatus
from tests.factories import IN_ONE_CONNECTION, EpochLog, create_run, make_spec
from tests.models.ingest.files import write_npz
from workers.datasets import load_dataset
from workers.datasets.uploaded import (
    DatasetMissingError,
    load_uploaded,
    run_data,
    worker_blob_cache,
)
from workers.execution import execute_run
from workers.runner import train
from workers.settings import get_settings

DIGITS = {"name": "digits", "seed": 3, "train_limit": 400}
MLP = {"kind": "mlp", "hidden": [32]}


def upload(session: Session, path: Path, name: str, fmt: str = "npz") -> DatasetRef:
    """Store `path` as the next version of `name` (blob and row), as an upload would."""
    summary = inspect_dataset(path, fmt, limits=get_ingest_limits())  # type: ignore[arg-type]
    with path.open("rb") as file:
        blob = blob_store(get_settings()).put(file, max_bytes=2**30)
    version = next_dataset_version(session=session, project_id=DEFAULT_PROJECT_ID, name=name)
    row = Dataset(
        project_id=DEFAULT_PROJECT_ID,
        name=name,
        version=version,
        sha256=blob.sha256,
        bytes=blob.size,
        format=fmt,
        label="",
        input_shape=list(summary.input_shape),
        class_names=summary.class_names,
        class_counts=summary.class_counts,
        test_class_counts=summary.test_class_counts,
    )
    session.add(row)
    session.flush()
    return DatasetRef.of(row)


def digits_npz(folder: Path, **test: np.ndarray[Any, Any]) -> Path:
    bunch = load_digits()
    return write_npz(folder / "digits.npz", x=bunch.images, y=bunch.target, **test)


def test_digits_uploaded_as_npz_split_exactly_like_the_built_in_set(tmp_path: Path) -> None:
    with_name = {**DIGITS, "name": "my-digits"}
    stored = blob_store(get_settings()).put_bytes(digits_npz(tmp_path).read_bytes())
    ref = DatasetRef("my-digits", 1, stored.sha256, "npz", "")
    uploaded = load_uploaded(DatasetSpec(**with_name), ref, worker_blob_cache())
    builtin = load_dataset(DatasetSpec(**DIGITS))
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(uploaded, split).x, getattr(builtin, split).x)
        np.testing.assert_array_equal(getattr(uploaded, split).y, getattr(builtin, split).y)
    assert uploaded.class_names == tuple(str(k) for k in range(10)) == builtin.class_names
    np.testing.assert_array_equal(uploaded.mean, builtin.mean)


def test_digits_uploaded_as_npz_train_to_the_built_in_curves(tmp_path: Path) -> None:
    stored = blob_store(get_settings()).put_bytes(digits_npz(tmp_path).read_bytes())
    ref = DatasetRef("my-digits", 1, stored.sha256, "npz", "")
    spec = make_spec(dataset=DIGITS, model=MLP, training={"epochs": 3})
    mine = spec.model_copy(update={"dataset": DatasetSpec(**{**DIGITS, "name": "my-digits"})})
    logs = EpochLog(), EpochLog()
    built_in = train(spec, threads=1, hooks=logs[0])
    uploaded = train(mine, threads=1, hooks=logs[1], data=run_data(mine.dataset, ref))
    for epoch, metrics in logs[0].epochs.items():
        for name in ("train_loss", "val_loss", "val_acc", "penalty"):
            assert logs[1].epochs[epoch][name] == pytest.approx(metrics[name], abs=1e-6)
    assert uploaded.summary["test_acc"] == pytest.approx(built_in.summary["test_acc"], abs=1e-6)


def test_an_explicit_test_split_is_used_as_given(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(200, 5)), rng.normal(size=(37, 5)) + 3.0
    y, y_test = np.arange(200) % 2, np.arange(37) % 2
    path = write_npz(tmp_path / "split.npz", x=x, y=y, x_test=x_test, y_test=y_test)
    stored = blob_store(get_settings()).put_bytes(path.read_bytes())
    spec = DatasetSpec(name="mine", val_fraction=0.25, test_fraction=0.4)
    data = load_uploaded(spec, DatasetRef("mine", 1, stored.sha256, "npz", ""), worker_blob_cache())
    assert (len(data.train), len(data.val), len(data.test)) == (150, 50, 37)
    assert data.mean is not None and data.std is not None
    np.testing.assert_allclose(data.test.x, (x_test - data.mean) / data.std, rtol=1e-6)
    np.testing.assert_array_equal(data.test.y, y_test)
    # Statistics of the training split only: the shifted test inputs stay shifted.
    assert data.test.x.mean() > 2.0 and abs(data.train.x.mean()) < 1e-6


def test_a_run_on_an_upload_records_the_version_and_hash(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    with sessions.begin() as session:
        first = upload(session, digits_npz(tmp_path), "digits-upload")
        bunch = load_digits()
        path = write_npz(tmp_path / "v2.npz", x=bunch.images[:600], y=bunch.target[:600])
        second = upload(session, path, "digits-upload")
        dataset = {**DIGITS, "name": "digits-upload", "version": 1}
        spec = make_spec(dataset=dataset, model=MLP, training={"epochs": 2})
        run_id = create_run(session, spec).id
    assert (first.version, second.version) == (1, 2)
    execute_run(run_id, sessions=sessions, threads=1, worker="test", policy=IN_ONE_CONNECTION)
    with sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.status == RunStatus.SUCCEEDED, run and run.error_message
        assert (run.dataset_version, run.dataset_sha256) == (1, first.sha256)


def test_a_run_whose_upload_is_gone_fails_saying_so(sessions: sessionmaker[Any]) -> None:
    with sessions.begin() as session:
        spec = make_spec(dataset={"name": "never-uploaded", "version": 4}, model=MLP)
        run_id = create_run(session, spec).id
    status = execute_run(
        run_id, sessions=sessions, threads=1, worker="test", policy=IN_ONE_CONNECTION
    )
    with sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None
        assert (status, run.error_type) == (RunStatus.FAILED, "dataset_missing")
        assert run.error_message == "dataset 'never-uploaded' version 4 is no longer stored"


def test_run_data_refuses_a_missing_upload_before_loading() -> None:
    with pytest.raises(DatasetMissingError, match="'gone'"):
        run_data(DatasetSpec(name="gone"), None)
