"""Dataset loaders: deterministic numpy arrays, stratified splits, train-only standardization.

Built-in datasets are generated (`load_dataset`); uploaded ones are read from the blob store
(`workers.datasets.uploaded`); both go through `split_dataset`, so a spec's split, cap and
standardization mean the same on either kind.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.spec import DatasetSpec
from models.spec.catalog import DatasetShape
from workers.datasets.generators import generate

Features = NDArray[np.float32]
Labels = NDArray[np.int64]
Stat = NDArray[np.float64]


@dataclass(frozen=True)
class Split:
    """Inputs shaped (N, *input_shape) and integer class labels."""

    x: Features
    y: Labels

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class DatasetArrays:
    """The three splits of one dataset, standardized with training statistics.

    `mean` and `std` (shaped like one input) are those statistics: a new input `v` is fed to
    the network as `(v - mean) / std`. `class_names[k]` names class k.
    """

    train: Split
    val: Split
    test: Split
    n_classes: int
    mean: Stat | None = None
    std: Stat | None = None
    class_names: tuple[str, ...] = ()

    @property
    def shape(self) -> DatasetShape:
        """Input shape, classes and size (all three splits) of the loaded data."""
        n_samples = len(self.train) + len(self.val) + len(self.test)
        return DatasetShape(tuple(self.train.x.shape[1:]), self.n_classes, n_samples)


def _stratified_split(
    y: Labels, fraction: float, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Indices (rest, held_out) with `fraction` of every class held out."""
    held: list[NDArray[np.intp]] = []
    rest: list[NDArray[np.intp]] = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_held = round(fraction * len(members))
        held.append(members[:n_held])
        rest.append(members[n_held:])
    return rng.permutation(np.concatenate(rest)), rng.permutation(np.concatenate(held))


def _split_indices(
    y: Labels, spec: DatasetSpec, explicit_test: bool
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Indices of (train, val, test) among the examples: stratified, seeded and capped."""
    rng = np.random.default_rng(spec.seed)
    if explicit_test:
        rest, test, val_share = np.arange(len(y)), np.arange(0), spec.val_fraction
    else:
        rest, test = _stratified_split(y, spec.test_fraction, rng)
        val_share = spec.val_fraction / (1.0 - spec.test_fraction)
    train_pos, val_pos = _stratified_split(y[rest], val_share, rng)
    train, val = rest[train_pos], rest[val_pos]
    if spec.train_limit is not None and spec.train_limit < len(train):
        # Stratified too: a small cap keeps every class in its share.
        _, kept = _stratified_split(y[train], spec.train_limit / len(train), rng)
        train = train[kept[: spec.train_limit]]
    return train, val, test


def split_dataset(
    x: NDArray[Any],
    y: Labels,
    spec: DatasetSpec,
    class_names: tuple[str, ...],
    test: tuple[NDArray[Any], Labels] | None = None,
) -> DatasetArrays:
    """Split (stratified, seeded), cap and standardize one dataset.

    Without an explicit `test` split, `spec.test_fraction` of `x` is held out for testing and
    `spec.val_fraction` of all of it for validation; with one, validation takes
    `spec.val_fraction` of `x` and the test split is used as given.
    """
    train, val, test_idx = _split_indices(y, spec, explicit_test=test is not None)
    # Statistics from the training split only: nothing about val/test leaks into training.
    mean = x[train].mean(axis=0, dtype=np.float64)
    std = x[train].std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0

    def standardized(features: NDArray[Any], labels: Labels) -> Split:
        return Split(((features - mean) / std).astype(np.float32), labels.astype(np.int64))

    return DatasetArrays(
        train=standardized(x[train], y[train]),
        val=standardized(x[val], y[val]),
        test=standardized(*test) if test is not None else standardized(x[test_idx], y[test_idx]),
        n_classes=len(class_names),
        mean=mean,
        std=std,
        class_names=class_names,
    )


@lru_cache(maxsize=2)
def load_dataset(spec: DatasetSpec) -> DatasetArrays:
    """Generate a built-in dataset, split it and standardize it.

    Cached per process: a worker training a search on one dataset generates it once.
    Callers share the arrays and must not write to them (backends wrap them without copying).
    """
    x, y, n_classes = generate(spec)
    return split_dataset(x, y, spec, tuple(str(k) for k in range(n_classes)))
