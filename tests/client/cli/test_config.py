"""`reglab login`'s file: owner-only, read back, overridden by the environment."""

import stat
from pathlib import Path

import pytest
from reglab_client.cli.config import Config, config_path, load, save


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REGLAB_URL", "REGLAB_API_KEY", "REGLAB_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_the_file_is_owner_only_and_read_back(tmp_path: Path) -> None:
    path = save(Config('http://h:1/"quoted"\\', "rl_abc_secret"))
    assert path == tmp_path / "xdg" / "reglab" / "config.toml" == config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load() == Config('http://h:1/"quoted"\\', "rl_abc_secret")


def test_a_readable_file_is_made_owner_only_before_the_key_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("url = 'http://old'\n")
    path.chmod(0o644)
    monkeypatch.setenv("REGLAB_CONFIG", str(path))
    assert save(Config("http://new", "rl_k")) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load() == Config("http://new", "rl_k")


def test_the_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    save(Config("http://file", "rl_file"))
    monkeypatch.setenv("REGLAB_API_KEY", "rl_env")
    assert load() == Config("http://file", "rl_env")
    monkeypatch.setenv("REGLAB_URL", "http://env")
    assert load() == Config("http://env", "rl_env")


def test_without_a_file_the_default_url_and_no_key() -> None:
    assert load() == Config("http://127.0.0.1:8000", None)
