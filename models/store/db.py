"""Engine and session factories, the declarative base, and retries of lost connections."""

import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    DateTime,
    Double,
    Engine,
    MetaData,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")
log = logging.getLogger(__name__)
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_WRITES = "reglab_writes"  # connection execution option: this transaction is going to write


class Base(DeclarativeBase):
    """Declarative base for every reglab table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _SqliteDouble(Double[float]):
    """A SQLite double whose values reach the driver unconverted (NaN travels as text)."""

    def bind_processor(self, dialect: Dialect) -> None:
        """No float() coercion: it would turn the text 'NaN' back into a float."""
        return None


class FaithfulFloat(TypeDecorator[float]):
    """A double that keeps NaN: SQLite would otherwise store NaN as NULL."""

    impl = Double
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """On SQLite, a double without float coercion on the way in."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDouble())
        return dialect.type_descriptor(Double())

    def process_bind_param(self, value: float | None, dialect: Dialect) -> Any:
        """Store NaN as the text 'NaN' on SQLite (its REAL columns accept any type)."""
        if dialect.name == "sqlite" and value is not None and math.isnan(value):
            return "NaN"
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        """Read the text 'NaN' back as a float."""
        return None if value is None else float(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """Only SQLite needs converting: elsewhere, skip the per-row call on long reads."""
        return super().result_processor(dialect, coltype) if dialect.name == "sqlite" else None


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every dialect (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to naive values read back from SQLite."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself: pysqlite's own handling breaks SAVEPOINTs.
    dbapi_connection.isolation_level = None
    # WAL lets the API read while a worker writes; busy_timeout makes a writer wait its turn
    # at BEGIN IMMEDIATE (see _begin).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives application crashes; only power loss can drop the last commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin(conn: Connection) -> None:
    # A deferred BEGIN takes the write lock at the first write; if another connection holds
    # it then, SQLite fails at once, whatever busy_timeout says (in WAL a transaction that has
    # read cannot wait to become a writer). BEGIN IMMEDIATE takes it up front, where
    # busy_timeout applies. Reads stay deferred: they never take the lock nor wait for it.
    immediate = conn.get_execution_options().get(_WRITES, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _owner_only_file(url: str) -> None:
    """Create the SQLite file readable by its owner only (SQLite gives -wal and -shm its mode);
    a file from an older version loses its group and other permissions."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite reports a missing folder itself, on first connect
    with suppress(FileExistsError):  # another process created it first
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    mode = path.stat().st_mode
    if mode & 0o077:
        with suppress(PermissionError):  # someone else's file: theirs to keep
            path.chmod(mode & 0o700)


def make_engine(url: str) -> Engine:
    """An engine for the store at `url`, tuned for its dialect."""
    if url.startswith("sqlite"):
        _owner_only_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Sessions(sessionmaker[Session]):
    """`sessions()` for reads; `sessions.begin()` for a transaction that writes.

    On SQLite `begin()` takes the write lock at once (BEGIN IMMEDIATE): concurrent writers,
    from this process or another, wait their turn for up to busy_timeout instead of failing
    when one of them has read first. Elsewhere it is sessionmaker's own.
    """

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in a transaction committed at the end of the block (rolled back on error)."""
        with super().begin() as session:
            if session.get_bind().dialect.name == "sqlite":
                session.connection(execution_options={_WRITES: True})
            yield session


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    """Sessions whose objects stay readable after commit; `begin()` ones are for writing."""
    return Sessions(bind=engine, expire_on_commit=False)


def is_outage(exc: BaseException) -> bool:
    """Whether a database error means the store is away for now (a retry may succeed).

    SQLite reports schema errors ("no such column": code newer than the migrations) as
    OperationalError too; those are bugs to surface, not outages to wait out.
    """
    return isinstance(exc, OperationalError) and not str(exc.orig).startswith("no such")


def with_retries(operation: Callable[[], T], *, seconds: float) -> T:
    """Run a database operation; on a lost connection (or a locked SQLite file) run it again,
    backing off, for up to `seconds`. The operation must be a whole transaction that is safe
    to repeat (reglab's writes are upserts and conditional updates)."""
    deadline = time.monotonic() + seconds
    delay = 0.1
    while True:
        try:
            return operation()
        except OperationalError as exc:
            if not is_outage(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable (%s); retrying in %.1f s", exc.orig, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
