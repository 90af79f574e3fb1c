"""Alembic environment: migrates the store named by REGLAB_DATABASE_URL (or the embedded one)."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from models.search.study import storage
from models.settings import get_settings
from models.store import tables  # noqa: F401  (registers the tables on Base.metadata)
from models.store.db import Base, make_engine

# Optuna's storage shares the database and keeps its own alembic history in `alembic_version`.
VERSION_TABLE = "reglab_alembic_version"

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations() -> None:
    """Apply migrations on a live connection (a caller may pass one in `attributes`)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url()
    engine = make_engine(url)
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()
    storage(url)  # creates Optuna's tables now, not in a race between the first users


def _foreign_keys(connection: Connection, on: bool) -> None:
    """Turn SQLite's foreign-key enforcement on or off: on the driver's own connection, as
    the pragma is ignored inside a transaction (and SQLAlchemy would begin one)."""
    pragma = f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"
    connection.connection.dbapi_connection.execute(pragma)  # type: ignore[union-attr]


def _migrate(connection: Connection) -> None:
    # SQLite alters a table by copying it and dropping the old one; with foreign keys
    # enforced, that drop cascades (every metric of `run` gone) or fails. They are off while
    # migrating, and checked before the commit instead.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _foreign_keys(connection, on=False)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
            raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    if sqlite:
        _foreign_keys(connection, on=True)


run_migrations()
