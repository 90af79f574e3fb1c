"""The stored catalog: specs name uploads by name and version, built-ins as before."""

import pytest
from sqlalchemy.orm import Session

from models.spec import DatasetSpec, SpecError
from models.spec.catalog import DatasetShape
from models.store.catalog import StoredCatalog
from models.store.tables import DEFAULT_PROJECT_ID, Dataset, Project


def add_version(session: Session, name: str, version: int, n: int, project: int = 1) -> None:
    """A stored version of `name` with `n` training examples in 3 classes of 4x4 inputs."""
    session.add(
        Dataset(
            project_id=project,
            name=name,
            version=version,
            sha256=f"{version:064x}",
            bytes=100,
            format="npz",
            label="",
            input_shape=[4, 4],
            class_names=["a", "b", "c"],
            class_counts=[n - 2, 1, 1],
            test_class_counts=[5, 5, 0] if version == 2 else None,
        )
    )
    session.flush()


@pytest.fixture
def catalog(session: Session) -> StoredCatalog:
    add_version(session, "spectra", 1, 50)
    add_version(session, "spectra", 2, 80)
    return StoredCatalog(session, DEFAULT_PROJECT_ID)


def test_an_upload_is_described_by_its_stored_version(catalog: StoredCatalog) -> None:
    newest = catalog.describe(DatasetSpec(name="spectra"))
    assert newest == DatasetShape((4, 4), 3, 80 + 10)
    assert catalog.describe(DatasetSpec(name="spectra", version=1)) == DatasetShape((4, 4), 3, 50)


def test_pinning_names_the_newest_version_and_keeps_a_fixed_one(catalog: StoredCatalog) -> None:
    assert catalog.pinned(DatasetSpec(name="spectra")).version == 2
    assert catalog.pinned(DatasetSpec(name="spectra", version=1)).version == 1
    assert catalog.pinned(DatasetSpec(name="digits")) == DatasetSpec(name="digits")


@pytest.mark.parametrize(
    ("dataset", "loc", "message"),
    [
        (
            {"name": "nope"},
            ("dataset", "name"),
            "dataset.name: no dataset 'nope': not built in (digits, moons, circles, blobs, "
            "classification) and not uploaded to this project (POST /datasets)",
        ),
        (
            {"name": "spectra", "version": 7},
            ("dataset", "version"),
            "dataset.version: 'spectra' has no version 7; its versions are 1, 2",
        ),
        (
            {"name": "spectra", "n_samples": 500},
            ("dataset", "n_samples"),
            "dataset.n_samples applies to generated datasets, not to the upload 'spectra'",
        ),
        (
            {"name": "moons", "version": 1},
            ("dataset", "version"),
            "dataset.version: 'moons' is built in and has no versions",
        ),
    ],
)
def test_what_a_catalog_cannot_find_is_named(
    catalog: StoredCatalog, dataset: dict[str, object], loc: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        catalog.describe(DatasetSpec.model_validate(dataset))
    assert (caught.value.loc, str(caught.value)) == (loc, message)


def test_another_projects_upload_is_not_found(session: Session) -> None:
    session.add(Project(id=2, name="other"))
    session.flush()
    add_version(session, "theirs", 1, 50, project=2)
    with pytest.raises(SpecError, match="no dataset 'theirs'"):
        StoredCatalog(session, DEFAULT_PROJECT_ID).describe(DatasetSpec(name="theirs"))
