"""Where the CLI finds its API: the environment first, then the file `reglab login` wrote."""

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from reglab_client.http import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE

CONFIG_VARIABLE = "REGLAB_CONFIG"


def config_path() -> Path:
    """$REGLAB_CONFIG, else reglab/config.toml in $XDG_CONFIG_HOME (~/.config)."""
    if explicit := os.environ.get(CONFIG_VARIABLE):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "reglab" / "config.toml"


@dataclass(frozen=True)
class Config:
    """The API's URL and the key to send it."""

    url: str
    api_key: str | None


def load() -> Config:
    """$REGLAB_URL and $REGLAB_API_KEY, each falling back on the config file's value."""
    path = config_path()
    stored = tomllib.loads(path.read_text()) if path.exists() else {}
    url = os.environ.get(URL_VARIABLE) or stored.get("url") or DEFAULT_URL
    return Config(str(url), os.environ.get(KEY_VARIABLE) or stored.get("api_key"))


def save(config: Config) -> Path:
    """Write the config file, readable by its owner alone (it holds a key)."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A JSON string is a valid TOML basic string: quotes, backslashes, controls escaped.
    text = f"url = {json.dumps(config.url)}\napi_key = {json.dumps(config.api_key or '')}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file that existed keeps its mode through O_CREAT
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    return path
