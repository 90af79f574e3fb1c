"""The migrations build exactly the tables the code declares, on both stores."""

import math
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from models.store.db import Base, make_engine
from models.store.tables import Metric
from tests.conftest import ROOT, migrate, scratch_postgres
from tests.models.store.blocks import assert_blocks_match_epochs


def _ours(name: str | None, kind: str, parent: Any) -> bool:
    """Our tables only: Optuna keeps its own in the same database."""
    return kind != "table" or name in Base.metadata.tables or name == "alembic_version"


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_name": _ours}
        differences = compare_metadata(
            MigrationContext.configure(connection, opts=opts), Base.metadata
        )
    assert differences == []


def test_sqlite_downgrade_and_upgrade_keep_every_row(tmp_path: Path) -> None:
    # SQLite copies a table to alter it; with foreign keys on, dropping the old `run` would
    # cascade to every metric (or fail for `experiment`).
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        for statement in ROWS:
            connection.exec_driver_sql(statement)
    config = _config(url)
    command.downgrade(config, "0008")
    command.upgrade(config, "head")
    with engine.connect() as connection:
        counts = [connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in TABLES]
    engine.dispose()
    assert counts == [1, 1, 1]


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own."""
    sqlite = nullcontext(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with scratch_postgres() if request.param == "postgres" else sqlite as url:
        yield url


def test_epochs_stored_before_blocks_existed_get_their_blocks(empty_url: str) -> None:
    config = _config(empty_url)
    command.upgrade(config, "0010")
    engine = make_engine(empty_url)
    odd = {7: math.nan, 8: -1.0, 9: -1.0}
    with engine.begin() as connection:
        for statement in ROWS[:2]:
            connection.exec_driver_sql(statement)
        # Through the table's types: SQLite keeps NaN only as FaithfulFloat writes it.
        metrics = [
            {"run_id": 1, "name": n, "epoch": e, "value": odd.get(e, (e * 7919 + len(n)) % 10_007)}
            for n in ("a", "bb")
            for e in range(1, 5001)
        ]
        connection.execute(insert(Metric), metrics)
        connection.exec_driver_sql("UPDATE run SET epochs_done = 5000")
    command.upgrade(config, "head")
    with Session(engine) as session:
        assert_blocks_match_epochs(session, 1)
    engine.dispose()


TABLES = ("experiment", "run", "metric")
ROWS = (
    "INSERT INTO experiment (id, project_id, name, spec, configurations_started, "
    "configurations_planned, created_at) VALUES (1, 1, 'e', '{}', 0, 0, '2026-01-01')",
    "INSERT INTO run (id, project_id, experiment_id, status, backend, seed, spec, epochs_done, "
    "attempts, created_at, queued_at) VALUES (1, 1, 1, 'queued', 'torch', 0, '{}', 0, 0, "
    "'2026-01-01', '2026-01-01')",
    "INSERT INTO metric (run_id, name, epoch, value) VALUES (1, 'train_loss', 1, 0.5)",
)
