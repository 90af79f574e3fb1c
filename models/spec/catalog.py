"""Dataset catalogs: what a spec's dataset looks like (no data is loaded here).

A catalog answers one question for `resolve`: the shape, classes and size of the data a
spec's dataset section names. The built-in catalog describes the generated datasets; a
catalog of stored datasets answers the same question from the database.
"""

from dataclasses import dataclass, field
from typing import Protocol

from models.spec.base import SpecError
from models.spec.dataset import DatasetParam, DatasetSpec


@dataclass(frozen=True)
class DatasetShape:
    """What a dataset looks like once its parameters are resolved."""

    input_shape: tuple[int, ...]
    n_classes: int
    n_samples: int


class Catalog(Protocol):
    """Where `resolve` learns what data a spec names."""

    def describe(self, dataset: DatasetSpec) -> DatasetShape:
        """The shape of the data `dataset` names; SpecError naming the field if none fits."""
        ...

    def pinned(self, dataset: DatasetSpec) -> DatasetSpec:
        """`dataset` naming one fixed version of its data (an upload's newest, if none)."""
        ...


@dataclass(frozen=True)
class BuiltinDataset:
    """One built-in dataset: what it is and which generator parameters it takes."""

    name: str
    description: str
    defaults: dict[DatasetParam, float] = field(default_factory=dict)
    fixed_shape: DatasetShape | None = None

    def params_for(self, overrides: dict[DatasetParam, float]) -> dict[DatasetParam, float]:
        """The generator parameters: the spec's values over the defaults."""
        return {**self.defaults, **{k: v for k, v in overrides.items() if k in self.defaults}}

    def shape(self, overrides: dict[DatasetParam, float]) -> DatasetShape:
        """Input shape, class count and size for the given parameter overrides."""
        if self.fixed_shape is not None:
            return self.fixed_shape
        params = self.params_for(overrides)
        return DatasetShape(
            input_shape=(int(params.get("n_features", 2)),),
            n_classes=int(params.get("n_classes", 2)),
            n_samples=int(params["n_samples"]),
        )


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    info.name: info
    for info in (
        BuiltinDataset(
            name="digits",
            description="8x8 grey-scale images of hand-written digits (scikit-learn's copy of "
            "the UCI set), 1,797 samples, 10 classes.",
            fixed_shape=DatasetShape(input_shape=(8, 8), n_classes=10, n_samples=1797),
        ),
        BuiltinDataset(
            name="moons",
            description="Two interleaving half circles in 2-D; `noise` is the Gaussian "
            "standard deviation added to each point.",
            defaults={"n_samples": 1000, "noise": 0.2},
        ),
        BuiltinDataset(
            name="circles",
            description="A small circle inside a large one in 2-D (radius ratio 0.5); "
            "`noise` is the Gaussian standard deviation added to each point.",
            defaults={"n_samples": 1000, "noise": 0.1},
        ),
        BuiltinDataset(
            name="blobs",
            description="Isotropic Gaussian clusters, one per class; `noise` is each "
            "cluster's standard deviation.",
            defaults={"n_samples": 1000, "noise": 1.0, "n_features": 2, "n_classes": 3},
        ),
        BuiltinDataset(
            name="classification",
            description="scikit-learn's make_classification: informative features on the "
            "vertices of a hypercube; `noise` is the share of labels flipped at random.",
            defaults={"n_samples": 1000, "noise": 0.01, "n_features": 20, "n_classes": 2},
        ),
    )
}


class BuiltinCatalog:
    """The generated datasets that ship with reglab."""

    def describe(self, dataset: DatasetSpec) -> DatasetShape:
        """The built-in dataset's shape under the spec's parameters."""
        info = BUILTIN_DATASETS.get(dataset.name)
        if info is None:
            known = ", ".join(BUILTIN_DATASETS)
            raise SpecError(
                ("dataset", "name"),
                f"dataset.name: unknown dataset {dataset.name!r}; known: {known}",
            )
        unknown = sorted(set(dataset.overrides()) - set(info.defaults))
        if unknown:
            raise SpecError(
                ("dataset", unknown[0]),
                f"dataset.{unknown[0]} does not apply to dataset {dataset.name!r}",
            )
        if dataset.version is not None:
            raise SpecError(
                ("dataset", "version"),
                f"dataset.version: {dataset.name!r} is built in and has no versions",
            )
        shape = info.shape(dataset.overrides())
        if info.name == "classification":
            _check_classification(dataset, shape)
        return shape

    def pinned(self, dataset: DatasetSpec) -> DatasetSpec:
        """Built-in data has one version: `dataset` as it is."""
        return dataset


def _check_classification(dataset: DatasetSpec, shape: DatasetShape) -> None:
    """make_classification's own limits, as 4xx rather than a failed run."""
    if (dataset.noise or 0.0) > 0.5:
        raise SpecError(
            ("dataset", "noise"),
            "dataset.noise: for classification it is a label-flip share, <= 0.5",
        )
    if 2 ** shape.input_shape[0] < 2 * shape.n_classes:
        raise SpecError(
            ("dataset", "n_classes"), "dataset.n_classes: too many classes for so few n_features"
        )
