"""The built-in dataset catalog: names, parameters and shapes (no data is loaded here)."""

from dataclasses import dataclass, field
from typing import Literal

DatasetName = Literal["digits", "moons", "circles", "blobs", "classification"]
DatasetParam = Literal["n_samples", "noise", "n_features", "n_classes"]


@dataclass(frozen=True)
class DatasetShape:
    """What a dataset looks like once its parameters are resolved."""

    input_shape: tuple[int, ...]
    n_classes: int
    n_samples: int


@dataclass(frozen=True)
class DatasetInfo:
    """One catalog entry: what the dataset is and which generator parameters it takes."""

    name: DatasetName
    description: str
    defaults: dict[DatasetParam, float] = field(default_factory=dict)
    fixed_shape: DatasetShape | None = None

    @property
    def params(self) -> frozenset[DatasetParam]:
        """Generator parameters a spec may set for this dataset."""
        return frozenset(self.defaults)

    def resolve(self, overrides: dict[DatasetParam, float]) -> dict[DatasetParam, float]:
        """The generator parameters: the spec's values over the catalog defaults."""
        return {**self.defaults, **{k: v for k, v in overrides.items() if k in self.defaults}}

    def shape(self, overrides: dict[DatasetParam, float]) -> DatasetShape:
        """Input shape, class count and size for the given parameter overrides."""
        if self.fixed_shape is not None:
            return self.fixed_shape
        params = self.resolve(overrides)
        return DatasetShape(
            input_shape=(int(params.get("n_features", 2)),),
            n_classes=int(params.get("n_classes", 2)),
            n_samples=int(params["n_samples"]),
        )


CATALOG: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="digits",
            description="8x8 grey-scale images of hand-written digits (scikit-learn's copy of "
            "the UCI set), 1,797 samples, 10 classes.",
            fixed_shape=DatasetShape(input_shape=(8, 8), n_classes=10, n_samples=1797),
        ),
        DatasetInfo(
            name="moons",
            description="Two interleaving half circles in 2-D; `noise` is the Gaussian "
            "standard deviation added to each point.",
            defaults={"n_samples": 1000, "noise": 0.2},
        ),
        DatasetInfo(
            name="circles",
            description="A small circle inside a large one in 2-D (radius ratio 0.5); "
            "`noise` is the Gaussian standard deviation added to each point.",
            defaults={"n_samples": 1000, "noise": 0.1},
        ),
        DatasetInfo(
            name="blobs",
            description="Isotropic Gaussian clusters, one per class; `noise` is each "
            "cluster's standard deviation.",
            defaults={"n_samples": 1000, "noise": 1.0, "n_features": 2, "n_classes": 3},
        ),
        DatasetInfo(
            name="classification",
            description="scikit-learn's make_classification: informative features on the "
            "vertices of a hypercube; `noise` is the share of labels flipped at random.",
            defaults={"n_samples": 1000, "noise": 0.01, "n_features": 20, "n_classes": 2},
        ),
    )
}
