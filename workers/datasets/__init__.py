"""Dataset loaders: deterministic numpy arrays, stratified splits, train-only standardization."""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from models.spec import DatasetSpec
from models.spec.catalog import DatasetShape
from workers.datasets.generators import generate

Features = NDArray[np.float32]
Labels = NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """Inputs shaped (N, *input_shape) and integer class labels."""

    x: Features
    y: Labels

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class DatasetArrays:
    """The three splits of one dataset, standardized with training statistics."""

    train: Split
    val: Split
    test: Split
    n_classes: int

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


@lru_cache(maxsize=2)
def load_dataset(spec: DatasetSpec) -> DatasetArrays:
    """Generate the dataset, split it (stratified, seeded) and standardize it.

    Cached per process: a worker training a search on one dataset generates it once.
    Callers share the arrays and must not write to them (backends wrap them without copying).
    """
    x, y, n_classes = generate(spec)
    rng = np.random.default_rng(spec.seed)
    rest, test = _stratified_split(y, spec.test_fraction, rng)
    val_share = spec.val_fraction / (1.0 - spec.test_fraction)
    train_pos, val_pos = _stratified_split(y[rest], val_share, rng)
    train, val = rest[train_pos], rest[val_pos]
    if spec.train_limit is not None and spec.train_limit < len(train):
        # Stratified too: a small cap keeps every class in its share.
        _, kept = _stratified_split(y[train], spec.train_limit / len(train), rng)
        train = train[kept[: spec.train_limit]]
    # Statistics from the training split only: nothing about val/test leaks into training.
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0

    def split(idx: NDArray[np.intp]) -> Split:
        return Split(x=((x[idx] - mean) / std).astype(np.float32), y=y[idx].astype(np.int64))

    return DatasetArrays(train=split(train), val=split(val), test=split(test), n_classes=n_classes)
