"""API keys: random and well-formed, stored only as an HMAC, refused when they do not do."""

import base64
import logging
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.services import keys
from models.services.errors import ConflictError, NotFoundError
from models.services.keys import KeyIdentity, authenticate, create_key, key_hmac, revoke
from models.store.tables import DEFAULT_PROJECT_ID, ApiKey

SECRET_KEY = b"a-server-secret-of-at-least-32-bytes"
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def new_key(sessions: sessionmaker[Any], **fields: Any) -> tuple[int, str]:
    """A key of the default project (read and write, no expiry unless given)."""
    options: dict[str, Any] = {"name": "ci", "scopes": ["read", "write"], "expires_at": None}
    return create_key(
        sessions,
        project_id=DEFAULT_PROJECT_ID,
        secret_key=SECRET_KEY,
        created_by=None,
        **{**options, **fields},
    )


def stored(sessions: sessionmaker[Any], row_id: int) -> ApiKey:
    """The key's row as the database holds it now."""
    with sessions() as session:
        row: ApiKey | None = session.get(ApiKey, row_id, populate_existing=True)
    assert row is not None
    return row


def test_raw_keys_are_prefixed_and_carry_256_random_bits() -> None:
    raw_keys = {keys.new_raw_key() for _ in range(200)}
    assert len(raw_keys) == 200
    for raw_key in raw_keys:
        match = re.fullmatch(r"rl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})", raw_key)
        assert match is not None, raw_key
        assert len(base64.urlsafe_b64decode(match[2] + "=")) == 32
    assert len({raw_key[3:15] for raw_key in raw_keys}) == 200  # key ids differ too


def test_the_row_holds_the_hmac_and_neither_the_key_nor_its_secret(
    sessions: sessionmaker[Any],
) -> None:
    row_id, raw_key = new_key(sessions)
    key_id, secret = raw_key[3:15], raw_key[16:]
    with sessions() as session:
        row = session.execute(text("SELECT * FROM api_key WHERE id = :id"), {"id": row_id})
        values = [str(value) for value in row.one()]
    assert not [value for value in values if secret in value or raw_key in value]
    assert stored(sessions, row_id).secret_hmac == key_hmac(SECRET_KEY, secret)
    assert stored(sessions, row_id).key_id == key_id


def test_a_valid_key_authenticates_as_its_project_and_scopes(sessions: sessionmaker[Any]) -> None:
    row_id, raw_key = new_key(sessions, scopes=["write", "read", "write"])
    with sessions() as session:
        identity = authenticate(session, raw_key, SECRET_KEY, T0)
    key_id = raw_key[3:15]
    assert identity == KeyIdentity(row_id, key_id, DEFAULT_PROJECT_ID, frozenset({"read", "write"}))
    assert stored(sessions, row_id).scopes == ["read", "write"]


def test_unknown_ids_wrong_secrets_and_other_servers_keys_are_refused(
    sessions: sessionmaker[Any],
) -> None:
    _, raw_key = new_key(sessions)
    other_secret = keys.new_raw_key()[16:]
    unknown_id = keys.new_raw_key()
    with sessions() as session:
        assert authenticate(session, unknown_id, SECRET_KEY, T0) is None
        assert authenticate(session, raw_key[:16] + other_secret, SECRET_KEY, T0) is None
        assert authenticate(session, raw_key, b"another-server-secret-of-32-bytes", T0) is None
        assert authenticate(session, raw_key, SECRET_KEY, T0) is not None


MALFORMED = [
    "",
    "rl_",
    "Bearer rl_0123456789ab_" + "A" * 43,
    "rk_0123456789ab_" + "A" * 43,
    "rl_0123456789AB_" + "A" * 43,  # token_hex is lowercase
    "rl_0123456789a_" + "A" * 44,
    "rl_0123456789ab_" + "A" * 42,
    "rl_0123456789ab_" + "A" * 44,
    "rl_0123456789ab_" + "A" * 42 + "=",
    "rl_0123456789ab_" + "A" * 42 + "+",
    "rl_0123456789ab_" + "A" * 43 + "\n",
    " rl_0123456789ab_" + "A" * 43,
    "rl_0123456789ab_" + "A" * 42 + "é",
    "rl_0123456789ab-" + "A" * 43,
    "rl_0123456789ab_" + "A" * 10_000,
]


@pytest.mark.parametrize("raw_key", MALFORMED)
def test_a_malformed_key_is_refused_without_a_query(raw_key: str) -> None:
    session = create_autospec(Session, instance=True)
    assert authenticate(session, raw_key, SECRET_KEY, T0) is None
    assert session.mock_calls == []


def test_a_key_past_its_expiry_is_refused(sessions: sessionmaker[Any]) -> None:
    _, raw_key = new_key(sessions, expires_at=T0 + timedelta(days=1))
    with sessions() as session:
        assert authenticate(session, raw_key, SECRET_KEY, T0 + timedelta(hours=23)) is not None
        assert authenticate(session, raw_key, SECRET_KEY, T0 + timedelta(days=1)) is None
        assert authenticate(session, raw_key, SECRET_KEY, T0 + timedelta(days=2)) is None


def test_a_revoked_key_is_refused_and_keeps_its_first_revocation(
    sessions: sessionmaker[Any],
) -> None:
    row_id, raw_key = new_key(sessions)
    admin_id, _ = new_key(sessions, scopes=["admin"])
    key_id = raw_key[3:15]
    revoked = revoke(sessions, key_id=key_id, now=T0, revoked_by=admin_id)
    assert (revoked.id, revoked.revoked_at, revoked.revoked_by_key_id) == (row_id, T0, admin_id)
    again = revoke(sessions, key_id=key_id, now=T0 + timedelta(hours=1))
    assert (again.revoked_at, again.revoked_by_key_id) == (T0, admin_id)
    with sessions() as session:
        assert authenticate(session, raw_key, SECRET_KEY, T0 + timedelta(seconds=1)) is None
    with pytest.raises(NotFoundError, match="000000000000"):
        revoke(sessions, key_id="000000000000", now=T0)


def test_last_used_at_is_written_at_most_once_a_minute(fresh_sessions: sessionmaker[Any]) -> None:
    # A database of its own: the write commits on a connection of its own, which the rolled-back
    # `sessions` (one connection for the whole test) cannot show.
    row_id, raw_key = new_key(fresh_sessions)
    assert stored(fresh_sessions, row_id).last_used_at is None
    seen = []
    for seconds in (0, 30, 59, 60, 61, 130):
        now = T0 + timedelta(seconds=seconds)
        with fresh_sessions() as session:
            identity = authenticate(session, raw_key, SECRET_KEY, now)
        assert identity is not None
        assert identity.last_used_at == stored(fresh_sessions, row_id).last_used_at  # no write
        if identity.use_due(now):
            keys.record_use(fresh_sessions, identity, now)
        seen.append(stored(fresh_sessions, row_id).last_used_at)
    assert seen == [T0 + timedelta(seconds=s) for s in (0, 0, 0, 60, 60, 130)]


def test_a_use_that_cannot_be_recorded_is_logged_not_raised(
    sessions: sessionmaker[Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    row_id, raw_key = new_key(sessions)

    def locked(**_: Any) -> None:
        raise OperationalError("UPDATE api_key", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "touch_key", locked)
    with sessions() as session:
        identity = authenticate(session, raw_key, SECRET_KEY, T0)
    assert identity is not None and identity.use_due(T0)
    with caplog.at_level(logging.DEBUG):
        keys.record_use(sessions, identity, T0)
    assert stored(sessions, row_id).last_used_at is None
    assert f"could not record the use of API key {raw_key[3:15]}" in caplog.text
    assert raw_key[16:] not in caplog.text


def test_scopes_must_be_known_and_not_empty(sessions: sessionmaker[Any]) -> None:
    with pytest.raises(ValueError, match="one or more of read, write, admin"):
        new_key(sessions, scopes=[])
    with pytest.raises(ValueError, match="'delete'"):
        new_key(sessions, scopes=["read", "delete"])
    with pytest.raises(NotFoundError, match="project 999999"):
        create_key(
            sessions,
            project_id=999_999,
            name="x",
            scopes=["read"],
            expires_at=None,
            secret_key=SECRET_KEY,
            created_by=None,
        )


def test_project_names_are_unique(sessions: sessionmaker[Any]) -> None:
    created = keys.create_project(sessions, name="team-a")
    assert keys.project_id(sessions, "team-a") == created
    with pytest.raises(ConflictError, match="'team-a' exists already"):
        keys.create_project(sessions, name="team-a")
    with pytest.raises(NotFoundError, match="'team-b'"):
        keys.project_id(sessions, "team-b")


def local_keys(sessions: sessionmaker[Any]) -> list[ApiKey]:
    """Every key of the project "default"."""
    with sessions() as session:
        return store.list_keys(session=session, project_id=keys.project_id(sessions, "default"))


def test_bootstrap_makes_one_admin_key_into_an_owner_only_file(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    key_file = tmp_path / "home" / "api_key"
    raw_key = keys.bootstrap_local(sessions, key_file, SECRET_KEY)
    assert raw_key is not None
    assert key_file.read_text() == raw_key + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    with sessions() as session:
        identity = authenticate(session, raw_key, SECRET_KEY, T0)
    assert identity is not None
    assert identity.scopes == {"read", "write", "admin"}
    assert identity.project_id == keys.project_id(sessions, "default")

    assert keys.bootstrap_local(sessions, key_file, SECRET_KEY) is None
    assert key_file.read_text() == raw_key + "\n"
    assert [(k.name, k.key_id) for k in local_keys(sessions)] == [("local admin", raw_key[3:15])]


def test_bootstrap_after_the_key_file_was_lost_reuses_the_project(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    first = keys.bootstrap_local(sessions, tmp_path / "a", SECRET_KEY)
    second = keys.bootstrap_local(sessions, tmp_path / "b", SECRET_KEY)
    assert first is not None and second is not None and first != second
    assert len(local_keys(sessions)) == 2


def test_bootstrap_losing_the_race_for_the_file_keeps_no_key(
    sessions: sessionmaker[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process writes the key file between the existence check and ours.
    monkeypatch.setattr(keys, "create_owner_only_file", lambda path, text: False)
    assert keys.bootstrap_local(sessions, tmp_path / "api_key", SECRET_KEY) is None
    assert local_keys(sessions) == []


def test_a_key_file_is_set_aside_only_when_its_key_is_refused(
    sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    key_file = tmp_path / "api_key"
    assert keys.bootstrap_key_file(sessions, key_file, SECRET_KEY, T0) == (
        key_file.read_text().strip(),
        None,
    )
    raw_key = key_file.read_text().strip()
    assert keys.bootstrap_key_file(sessions, key_file, SECRET_KEY, T0) == (None, None)
    assert key_file.read_text() == raw_key + "\n"
    other_server = b"another-server-secret-of-32-bytes"
    new_key, aside = keys.bootstrap_key_file(sessions, key_file, other_server, T0)
    assert aside == tmp_path / "api_key.refused-20261203T120000"
    assert aside.read_text() == raw_key + "\n"  # kept: it may open another database
    assert new_key is not None and key_file.read_text() == new_key + "\n"
    with sessions() as session:
        assert authenticate(session, new_key, other_server, T0) is not None


def test_a_key_made_by_a_key_never_outlives_it() -> None:
    forever = KeyIdentity(1, "0" * 12, 1, frozenset({"admin"}))
    brief = KeyIdentity(1, "0" * 12, 1, frozenset({"admin"}), expires_at=T0)
    later, sooner = T0 + timedelta(days=1), T0 - timedelta(days=1)
    assert keys.bounded_expiry(None, forever) is None
    assert keys.bounded_expiry(later, forever) == later
    assert keys.bounded_expiry(None, brief) == T0
    assert keys.bounded_expiry(later, brief) == T0
    assert keys.bounded_expiry(sooner, brief) == sooner
