"""A submission's uploaded dataset is pinned to one version, unless its search varies the name."""

from typing import Any

from sqlalchemy.orm import Session

from models.search.spec import SearchSpec
from models.services.experiments import Submission, validated
from models.store.catalog import StoredCatalog
from models.store.tables import DEFAULT_PROJECT_ID
from tests.factories import make_spec
from tests.models.store.test_catalog import add_version


def submission(session: Session, search: dict[str, Any] | None = None) -> Submission:
    add_version(session, "spectra", 1, 50)
    add_version(session, "spectra", 2, 80)
    add_version(session, "other", 1, 60)
    spec = make_spec(dataset={"name": "spectra", "n_samples": None})
    return Submission("pin", spec, SearchSpec.model_validate(search) if search else None)


def test_the_newest_version_is_pinned_into_the_spec(session: Session) -> None:
    catalog = StoredCatalog(session, DEFAULT_PROJECT_ID)
    assert validated(submission(session), catalog).spec.dataset.version == 2


def test_a_search_over_names_leaves_each_configuration_its_own_newest(session: Session) -> None:
    search = {"space": {"dataset.name": ["spectra", "other"]}, "method": "grid"}
    catalog = StoredCatalog(session, DEFAULT_PROJECT_ID)
    # Pinning spectra's version 2 would send `other` (which has only version 1) looking for 2.
    assert validated(submission(session, search), catalog).spec.dataset.version is None
