"""The catalog a project's specs resolve against: the built-in datasets and its uploads."""

from sqlalchemy.orm import Session

from models.spec.base import SpecError
from models.spec.catalog import BUILTIN_DATASETS, BuiltinCatalog, DatasetShape
from models.spec.dataset import DatasetSpec
from models.store.datasets import find_dataset, list_dataset_versions
from models.store.tables import Dataset

NAME, VERSION = ("dataset", "name"), ("dataset", "version")


class StoredCatalog:
    """Built-in datasets by name, else the project's uploaded datasets from the store."""

    def __init__(self, session: Session, project_id: int) -> None:
        self.session = session
        self.project_id = project_id
        self.builtin = BuiltinCatalog()
        # One request may resolve thousands of search configurations naming the same data.
        self._found: dict[tuple[str, int | None], Dataset] = {}

    def describe(self, dataset: DatasetSpec) -> DatasetShape:
        """The shape of the built-in or uploaded data `dataset` names."""
        if dataset.name in BUILTIN_DATASETS:
            return self.builtin.describe(dataset)
        row = self.find(dataset)
        params = sorted(dataset.overrides())
        if params:
            param = params[0]
            raise SpecError(
                ("dataset", param),
                f"dataset.{param} applies to generated datasets, not to the upload {row.name!r}",
            )
        return DatasetShape(tuple(row.input_shape), len(row.class_names), row.n_examples)

    def pinned(self, dataset: DatasetSpec) -> DatasetSpec:
        """`dataset` with the version it names, the newest one if it names none."""
        if dataset.name in BUILTIN_DATASETS or dataset.version is not None:
            return dataset
        return dataset.model_copy(update={"version": self.find(dataset).version})

    def find(self, dataset: DatasetSpec) -> Dataset:
        """The stored version `dataset` names; SpecError naming the field if there is none."""
        key = (dataset.name, dataset.version)
        if key not in self._found:
            self._found[key] = self._lookup(dataset)
        return self._found[key]

    def _lookup(self, dataset: DatasetSpec) -> Dataset:
        row = find_dataset(
            session=self.session,
            project_id=self.project_id,
            name=dataset.name,
            version=dataset.version,
        )
        if row is not None:
            return row
        versions = list_dataset_versions(
            session=self.session, project_id=self.project_id, name=dataset.name
        )
        if versions:
            listed = ", ".join(str(v.version) for v in versions)
            message = f"dataset.version: {dataset.name!r} has no version {dataset.version}; "
            raise SpecError(VERSION, message + f"its versions are {listed}")
        known = ", ".join(BUILTIN_DATASETS)
        raise SpecError(
            NAME,
            f"dataset.name: no dataset {dataset.name!r}: not built in ({known}) and not "
            "uploaded to this project (POST /datasets)",
        )
