"""`pip install ./client` alone, in a fresh virtualenv: httpx and its own dependencies, no
framework and none of the server's packages; it imports and makes a client, and its `reglab`
script names the extra the CLI needs."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration
# What the server or training needs, and the CLI's extra: none of it is the library's business.
NOT_PULLED = {
    "torch", "tensorflow", "tensorflow-cpu", "keras", "numpy", "fastapi", "starlette",
    "pydantic", "sqlalchemy", "celery", "optuna", "reglab", "typer", "rich", "pyyaml",
}  # fmt: skip
BUILT = ("build", "*.egg-info", "__pycache__", ".mypy_cache")
CHECK = """
import json, sys
from reglab_client import Client
client = Client("http://127.0.0.1:9", "rl_key")
heavy = {"torch", "tensorflow", "keras", "numpy", "pydantic", "api", "models", "workers"}
print(json.dumps({"url": client.url, "loaded": sorted(heavy & set(sys.modules))}))
"""


def run(*command: str | Path) -> str:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_client_alone_installs_and_imports_without_any_framework(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # This venv's pip installs into the new one (`--python`): no pip to bootstrap there.
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    # From a copy: pip builds in the source tree, which must stay clean.
    source = tmp_path / "client"
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns(*BUILT))
    run(*pip, "install", "--quiet", source)
    installed = {p["name"].lower() for p in json.loads(run(*pip, "list", "--format", "json"))}
    assert {"reglab-client", "httpx"} <= installed
    assert not installed & NOT_PULLED, installed & NOT_PULLED
    checked = json.loads(run(python, "-c", CHECK))
    assert checked == {"url": "http://127.0.0.1:9", "loaded": []}
    # The console script comes with the library; without the CLI's extra it says what to install.
    script = subprocess.run([venv / "bin" / "reglab", "runs", "ls"], capture_output=True, text=True)
    assert script.returncode == 1, script.stderr
    assert "pip install 'reglab-client[cli]'" in script.stderr, script.stderr
