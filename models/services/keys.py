"""Projects and API keys: keys made at random and shown once, kept as an HMAC, checked in
constant time.

A raw key is `rl_<key id>_<secret>`: the prefix lets secret scanners spot a leaked one, the
public key id finds its row, and the secret (256 bits) is stored only as HMAC-SHA256 under the
server secret, so a copy of the database opens nothing.
"""

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.services.errors import ConflictError, NotFoundError
from models.settings import create_owner_only_file, owner_only_folder
from models.store.tables import ApiKey, Project

SCOPES = ("read", "write", "admin", "metrics")
# A project's first key and `make run`'s: `admin` implies `metrics` (api/auth.py).
FIRST_KEY_SCOPES = ["read", "write", "admin"]
# token_hex(6): 12 lowercase hex digits; token_urlsafe(32): 43 characters of unpadded base64url.
RAW_KEY = re.compile(r"rl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# last_used_at is written at most this often per key, so reads do not each become a write.
TOUCH_EVERY = timedelta(minutes=1)
# The project every row lived in before keys existed: an upgraded laptop keeps its history.
LOCAL_PROJECT = "default"
LOCAL_KEY_NAME = "local admin"
FIRST_KEY_NAME = "first admin"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyIdentity:
    """An authenticated key: its row id, public key id, project and scopes."""

    id: int
    key_id: str
    project_id: int
    scopes: frozenset[str]
    last_used_at: datetime | None = field(default=None, compare=False)
    expires_at: datetime | None = field(default=None, compare=False)

    def use_due(self, now: datetime) -> bool:
        """Whether `now` should be recorded as its last use (at most once per TOUCH_EVERY)."""
        return self.last_used_at is None or self.last_used_at <= now - TOUCH_EVERY


class _KeyFileTakenError(Exception):
    """Another process wrote the key file first."""


def new_raw_key() -> str:
    """A fresh raw key, `rl_<12 hex key id>_<256-bit urlsafe secret>`."""
    return f"rl_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def parse_raw_key(raw_key: str) -> tuple[str, str] | None:
    """The (key id, secret) of a well-formed raw key; None for anything else."""
    match = RAW_KEY.fullmatch(raw_key)
    return (match[1], match[2]) if match else None


def key_hmac(secret_key: bytes, secret: str) -> str:
    """HMAC-SHA256 of a key's secret under the server secret, hex: what the store keeps."""
    return hmac.new(secret_key, secret.encode(), hashlib.sha256).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in canonical order; ValueError if none, or one is unknown."""
    chosen = set(scopes)
    if not chosen or not chosen <= set(SCOPES):
        raise ValueError(f"scopes must be one or more of {', '.join(SCOPES)}; got {sorted(chosen)}")
    return [scope for scope in SCOPES if scope in chosen]


def _add_key(session: Session, raw_key: str, secret_key: bytes, **fields: Any) -> ApiKey:
    """Store a key of a project that must exist; NotFoundError if it does not."""
    if session.get(Project, fields["project_id"]) is None:
        raise NotFoundError(f"project {fields['project_id']} not found")
    parsed = parse_raw_key(raw_key)
    assert parsed is not None, "new_raw_key makes well-formed keys"
    key_id, secret = parsed
    secret_hmac = key_hmac(secret_key, secret)
    return store.add_key(session=session, key_id=key_id, secret_hmac=secret_hmac, **fields)


def create_key(
    sessions: sessionmaker[Any],
    *,
    project_id: int,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    secret_key: bytes,
    created_by: int | None,
) -> tuple[int, str]:
    """Make a key for the project: its row id and the raw key, which is never seen again."""
    chosen = check_scopes(scopes)
    raw_key = new_raw_key()
    with sessions.begin() as session:
        key = _add_key(
            session,
            raw_key,
            secret_key,
            project_id=project_id,
            name=name,
            scopes=chosen,
            expires_at=expires_at,
            created_by=created_by,
        )
        return key.id, raw_key


def record_use(sessions: sessionmaker[Any], identity: KeyIdentity, now: datetime) -> None:
    """Set the key's last_used_at in a transaction of its own (call it when `use_due`).

    A store that cannot take the write now (locked, read-only, away) costs one timestamp,
    never a request.
    """
    try:
        with sessions.begin() as session:
            store.touch_key(session=session, row_id=identity.id, now=now, every=TOUCH_EVERY)
    except SQLAlchemyError:
        log.warning("could not record the use of API key %s", identity.key_id, exc_info=True)


def authenticate(
    session: Session, raw_key: str, secret_key: bytes, now: datetime
) -> KeyIdentity | None:
    """The identity of a valid key; None if malformed, unknown, wrong, expired or revoked."""
    parsed = parse_raw_key(raw_key)
    if parsed is None:
        return None
    key_id, secret = parsed
    key = store.find_key(session=session, key_id=key_id)
    if key is None or not hmac.compare_digest(key.secret_hmac, key_hmac(secret_key, secret)):
        return None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    scopes = frozenset(key.scopes)
    return KeyIdentity(key.id, key.key_id, key.project_id, scopes, key.last_used_at, key.expires_at)


def revoke(
    sessions: sessionmaker[Any],
    *,
    key_id: str,
    now: datetime,
    revoked_by: int | None = None,
    project_id: int | None = None,
) -> ApiKey:
    """Revoke a key by its key id (again: no change) and return it; NotFoundError if there is
    none (in `project_id`, when given: another project's key is not found either)."""
    with sessions.begin() as session:
        key = store.revoke_key(
            session=session, key_id=key_id, now=now, revoked_by=revoked_by, project_id=project_id
        )
    if key is None:
        raise NotFoundError(f"API key {key_id} not found")
    return key


@contextmanager
def _new_project(sessions: sessionmaker[Any], name: str) -> Iterator[tuple[Session, int]]:
    """A transaction that makes a project (committed on exit); ConflictError if the name is
    taken."""
    taken = ConflictError(f"a project named {name!r} exists already")
    try:
        with sessions.begin() as session:
            if store.get_project_by_name(session=session, name=name) is not None:
                raise taken
            yield session, store.create_project(session=session, name=name).id
    except IntegrityError:  # made by another process since the check
        raise taken from None


def create_project(sessions: sessionmaker[Any], *, name: str) -> int:
    """Make a project and return its id; ConflictError if the name is taken."""
    with _new_project(sessions, name) as (_, project_id):
        return project_id


def open_project(
    sessions: sessionmaker[Any],
    *,
    name: str,
    secret_key: bytes,
    created_by: int | None,
    expires_at: datetime | None,
) -> tuple[int, str]:
    """Make a project with its first admin key, in one transaction: its id and the raw key."""
    raw_key = new_raw_key()
    with _new_project(sessions, name) as (session, project_id):
        fields = {"name": FIRST_KEY_NAME, "scopes": FIRST_KEY_SCOPES, "expires_at": expires_at}
        _add_key(
            session, raw_key, secret_key, project_id=project_id, created_by=created_by, **fields
        )
        return project_id, raw_key


def project_id(sessions: sessionmaker[Any], name: str) -> int:
    """The id of the project called `name`; NotFoundError if there is none."""
    with sessions() as session:
        project = store.get_project_by_name(session=session, name=name)
    if project is None:
        raise NotFoundError(f"no project named {name!r}")
    return project.id


def set_aside_refused_key_file(
    sessions: sessionmaker[Any], key_file: Path, secret_key: bytes, now: datetime
) -> Path | None:
    """If the key in `key_file` is not accepted here (revoked, expired, unknown to this store,
    or made under another server secret), rename the file aside (it may still open another
    database) and return the new path; a good key stays where it is."""
    if not key_file.exists():
        return None
    with sessions() as session:
        if authenticate(session, key_file.read_text().strip(), secret_key, now) is not None:
            return None
    aside = key_file.with_name(f"{key_file.name}.refused-{now:%Y%m%dT%H%M%S}")
    key_file.replace(aside)
    return aside


def bootstrap_key_file(
    sessions: sessionmaker[Any], key_file: Path, secret_key: bytes, now: datetime
) -> tuple[str | None, Path | None]:
    """What `make run` does at each start, under a lock so concurrent starts agree: set a
    refused key file aside, then make a key if there is none. Returns the new raw key (None
    if the file's key was kept) and where a refused file went (None if none was)."""
    owner_only_folder(key_file.parent)
    with FileLock(key_file.with_name(f"{key_file.name}.lock")):
        aside = set_aside_refused_key_file(sessions, key_file, secret_key, now)
        return bootstrap_local(sessions, key_file, secret_key), aside


def bootstrap_local(sessions: sessionmaker[Any], key_file: Path, secret_key: bytes) -> str | None:
    """On first start, make an admin key for project "default", write the raw key to
    `key_file` (owner-only) and return it; None if `key_file` exists (nothing is made)."""
    if key_file.exists():
        return None
    try:
        local = create_project(sessions, name=LOCAL_PROJECT)
    except ConflictError:  # made by an earlier start whose key file is gone, or concurrently
        local = project_id(sessions, LOCAL_PROJECT)
    owner_only_folder(key_file.parent)
    raw_key = new_raw_key()
    written = False
    try:
        with sessions.begin() as session:
            fields = {"project_id": local, "name": LOCAL_KEY_NAME, "scopes": FIRST_KEY_SCOPES}
            _add_key(session, raw_key, secret_key, expires_at=None, created_by=None, **fields)
            # Written before the commit, so no key is made that no file holds.
            written = create_owner_only_file(key_file, raw_key + "\n")
            if not written:
                raise _KeyFileTakenError  # another process's key is the one in use: roll ours back
    except _KeyFileTakenError:
        return None
    except BaseException:
        if written:  # the commit failed: the file would hold a key that does not exist
            key_file.unlink()
        raise
    return raw_key


def bounded_expiry(requested: datetime | None, parent: KeyIdentity) -> datetime | None:
    """The expiry of a key made by `parent`: never later than the parent's own, so a key
    that expires cannot outlive itself through the keys it makes."""
    if parent.expires_at is None:
        return requested
    return parent.expires_at if requested is None else min(requested, parent.expires_at)
