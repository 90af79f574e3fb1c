"""Shared fixtures: real migrated databases (SQLite and Postgres), sessions rolled back per test."""

import importlib.util
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from models.blobs import BlobStore
from models.store.db import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from tests.models.blobs.s3server import S3Server

ROOT = Path(__file__).resolve().parents[1]
# In-process API apps of the tests reconcile on demand (tests call it), not on a timer.
os.environ.setdefault("REGLAB_RECONCILE_SECONDS", "0")
# TestClient sends `Host: testserver`; the API refuses Host names it was not given.
os.environ.setdefault("REGLAB_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "REGLAB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REGLAB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unavailable(what: str) -> None:
    """Skip on a laptop without the service; fail under CI, where every service must be up."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not reachable")
    pytest.skip(f"{what} not reachable")


def migrate(url: str) -> None:
    """Apply every migration to the database at `url`."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep every embedded store and broker a test creates out of the developer's ./.reglab."""
    os.environ["REGLAB_HOME"] = str(tmp_path_factory.mktemp("reglab-home"))


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """An empty Postgres database that exists for the duration of the block."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"reglab_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        admin.dispose()
        unavailable(f"Postgres at {POSTGRES_ADMIN_URL}")
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated Postgres database for this test session, dropped afterwards."""
    with scratch_postgres() as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for this test session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'reglab.sqlite'}"
    migrate(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on both supported databases."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    """One engine per database for the whole session."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Any]]:
    """Sessions inside one outer transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        yield sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        outer.rollback()


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Any]]:
    """A newly migrated database of the test's own, committed for real.

    For code that commits in several transactions while Optuna writes through its own
    connections (searches), where a rolled-back outer transaction cannot hold it all.
    """
    sqlite = nullcontext(f"sqlite:///{tmp_path / 'reglab.sqlite'}")
    with scratch_postgres() if request.param == "postgres" else sqlite as url:
        migrate(url)
        engine = make_engine(url)
        yield make_sessionmaker(engine)
        engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Any]) -> Iterator[Session]:
    """One rolled-back session."""
    with sessions() as session:
        yield session


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator["S3Server"]:
    """moto's standalone server for the whole session (dev extras: `moto[server]`)."""
    # Imported here: s3server needs this module's ROOT, and only S3 tests pay for s3fs.
    from tests.models.blobs.s3server import moto_server

    if importlib.util.find_spec("moto") is None:
        unavailable("moto (pip install -e '.[dev]')")
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """An empty blob store: a folder, or a fresh prefix of the test bucket with its own spool."""
    if request.param == "local":
        return BlobStore(str(tmp_path / "blobs"))
    from tests.models.blobs.s3server import BUCKET

    server: S3Server = request.getfixturevalue("s3_server")
    url = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    return BlobStore(url, spool_dir=tmp_path / "spool", **server.options)
