"""Dataset loaders: shapes, stratified reproducible splits, train-only standardization."""

import numpy as np
import pytest

from models.spec import DatasetSpec
from models.spec.catalog import BUILTIN_DATASETS, BuiltinCatalog
from workers.datasets import load_dataset
from workers.datasets.generators import generate


@pytest.mark.parametrize("name", sorted(BUILTIN_DATASETS))
def test_shapes_match_the_catalog(name: str) -> None:
    spec = DatasetSpec(name=name)
    data = load_dataset(spec)
    shape = BuiltinCatalog().describe(spec)
    total = len(data.train) + len(data.val) + len(data.test)
    assert total == shape.n_samples
    assert data.train.x.shape[1:] == shape.input_shape
    assert data.n_classes == shape.n_classes
    assert data.shape == shape  # what a worker plans with is what the API resolved
    assert set(np.unique(data.train.y)) == set(range(shape.n_classes))
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64


def test_splits_are_stratified() -> None:
    data = load_dataset(DatasetSpec(name="digits", val_fraction=0.2, test_fraction=0.2))
    for split in (data.val, data.test):
        shares = np.bincount(split.y, minlength=10) / len(split)
        overall = np.bincount(np.concatenate([data.train.y, data.val.y, data.test.y])) / 1797
        assert np.abs(shares - overall).max() < 0.01


def test_same_seed_same_split_other_seed_other_split() -> None:
    a = load_dataset(DatasetSpec(name="moons", seed=3))
    b = load_dataset(DatasetSpec(name="moons", seed=3))
    c = load_dataset(DatasetSpec(name="moons", seed=4))
    assert np.array_equal(a.train.x, b.train.x) and np.array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.train.x, c.train.x)


def test_standardized_with_training_statistics_only() -> None:
    spec = DatasetSpec(name="blobs", noise=2.0)
    data = load_dataset(spec)
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.train.x.std(axis=0), 1.0, atol=1e-4)
    # Validation data is transformed with the training mean/std, so it is not itself centred.
    assert np.abs(data.val.x.mean(axis=0)).max() > 1e-3
    raw, _, _ = generate(spec)
    assert raw.shape == (1000, 2)


def test_train_limit_caps_the_training_split() -> None:
    data = load_dataset(DatasetSpec(name="digits", train_limit=100))
    assert 95 <= len(data.train) <= 100
    assert np.bincount(data.train.y, minlength=10).min() >= 9  # every class keeps its share
    assert abs(len(data.val) - round(0.15 * 1797)) <= 10
