"""The migrations build exactly the tables the code declares, on both stores."""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from models.store.db import Base, make_engine
from tests.conftest import ROOT, migrate


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
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    command.downgrade(config, "0008")
    command.upgrade(config, "head")
    with engine.connect() as connection:
        counts = [connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in TABLES]
    engine.dispose()
    assert counts == [1, 1, 1]


TABLES = ("experiment", "run", "metric")
ROWS = (
    "INSERT INTO experiment (id, project_id, name, spec, configurations_started, "
    "configurations_planned, created_at) VALUES (1, 1, 'e', '{}', 0, 0, '2026-01-01')",
    "INSERT INTO run (id, project_id, experiment_id, status, backend, seed, spec, epochs_done, "
    "attempts, created_at, queued_at) VALUES (1, 1, 1, 'queued', 'torch', 0, '{}', 0, 0, "
    "'2026-01-01', '2026-01-01')",
    "INSERT INTO metric (run_id, name, epoch, value) VALUES (1, 'train_loss', 1, 0.5)",
)
