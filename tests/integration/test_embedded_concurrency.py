"""Concurrent writes through a real API on the embedded store: they wait their turn, none fails.

The API process (its threadpool, and its reconciler passing every 0.1 s, which reads and then
writes) and a lease-renewing writer with its own engine all write to one SQLite file.
"""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.store.db import make_engine, make_sessionmaker
from models.store.tables import Experiment
from tests.integration.concurrency import (
    LeaseWriter,
    cancel_experiments,
    cancel_runs,
    create_experiments,
    embedded_api,
    idempotent_posts,
    locked_errors,
)

pytestmark = pytest.mark.integration


def keyed_experiments(database_url: str) -> int:
    """How many experiments the store holds that were created under an Idempotency-Key."""
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        query = select(func.count()).where(Experiment.idempotency_key.is_not(None))
        count = session.scalar(query)
    engine.dispose()
    return count or 0


def test_concurrent_cancels_and_idempotent_posts_get_no_5xx(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with embedded_api(home) as (api, database_url):
        lease_run = create_experiments(api, 1)[0]["runs"][0]["id"]
        with LeaseWriter(database_url, lease_run) as writer:
            experiments = cancel_experiments(api, 40)
            runs = cancel_runs(api, 40)
            posts = idempotent_posts(api, 50)
        keyed = keyed_experiments(database_url)
    assert [o.status for o in experiments] == [200] * 40, [o.body for o in experiments]
    assert all(o.body["progress"]["cancelled"] == 1 for o in experiments)
    assert [o.status for o in runs] == [200] * 40, [o.body for o in runs]
    assert {o.body["status"] for o in runs} == {"cancelled"}
    assert [o.status for o in posts] == [202] * 50, [o.body for o in posts]
    assert len({o.body["id"] for o in posts}) == 1 and keyed == 1
    assert writer.errors == [] and writer.seconds
    assert locked_errors(home) == []  # nor in the API's reconciler passes
