"""The server secret: configured (and long enough), or generated once, owner-only, and shared."""

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from models.settings import Settings


def test_a_generated_secret_is_owner_only_and_reused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = Settings(home=home, secret_key="").resolved_secret_key()
    assert len(first) >= 32
    assert (home / "secret_key").read_text() == first.decode() + "\n"
    assert stat.S_IMODE((home / "secret_key").stat().st_mode) == 0o600
    assert Settings(home=home).resolved_secret_key() == first
    assert Settings(home=tmp_path / "other").resolved_secret_key() != first


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: Settings(home=tmp_path).resolved_secret_key(), range(32)))
    assert len(secrets) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary left behind


def test_a_configured_secret_is_used_as_it_is(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, secret_key="s" * 32)
    assert settings.resolved_secret_key() == b"s" * 32
    assert not (tmp_path / "secret_key").exists()
    assert "s" * 32 not in repr(settings)


def test_a_short_secret_is_refused_without_being_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGLAB_SECRET_KEY", "hunter2-hunter2")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert "REGLAB_SECRET_KEY must be at least 32 characters" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_a_damaged_secret_file_is_an_error_not_a_weak_key(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(ValueError, match="secret_key holds fewer than 32 characters"):
        Settings(home=tmp_path).resolved_secret_key()
