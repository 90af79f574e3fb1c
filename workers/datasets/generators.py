"""Raw generators for the built-in catalog; everything is local, nothing is downloaded."""

import math

import numpy as np
from numpy.typing import NDArray
from sklearn import datasets as skd

from models.spec import DatasetSpec
from models.spec.catalog import BUILTIN_DATASETS

Raw = tuple[NDArray[np.float64], NDArray[np.int64], int]


def generate(spec: DatasetSpec) -> Raw:
    """Inputs shaped (N, *input_shape), labels and class count, deterministic from the seed."""
    params = BUILTIN_DATASETS[spec.name].params_for(spec.overrides())
    n = int(params.get("n_samples", 0))
    noise = params.get("noise", 0.0)
    seed = spec.seed
    if spec.name == "digits":
        bunch = skd.load_digits()  # ships inside scikit-learn
        return bunch.images.astype(np.float64), bunch.target.astype(np.int64), 10
    if spec.name == "moons":
        x, y = skd.make_moons(n_samples=n, noise=noise, random_state=seed)
        return x, y.astype(np.int64), 2
    if spec.name == "circles":
        x, y = skd.make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
        return x, y.astype(np.int64), 2
    n_features, n_classes = int(params["n_features"]), int(params["n_classes"])
    if spec.name == "blobs":
        x, y = skd.make_blobs(
            n_samples=n,
            n_features=n_features,
            centers=n_classes,
            cluster_std=noise,
            random_state=seed,
        )
        return x, y.astype(np.int64), n_classes
    x, y = skd.make_classification(
        n_samples=n,
        n_features=n_features,
        n_informative=min(n_features, max(n_features // 2, math.ceil(math.log2(2 * n_classes)))),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        flip_y=noise,
        random_state=seed,
    )
    return x, y.astype(np.int64), n_classes
