"""The migrations build exactly the tables the code declares, on both stores."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from models.store.db import Base


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
