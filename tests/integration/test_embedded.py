"""`make run`'s launcher on the embedded store and broker: no Postgres, no Redis."""

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.stack import (
    KEY_FILE,
    api_client,
    assert_stack_serves,
    free_port,
    process_env,
    read_key,
    running,
    wait_healthy,
    wait_terminal,
)
from tests.integration.uploads import assert_uploads_train

pytestmark = pytest.mark.integration


def printed_examples(log: Path) -> list[dict[str, Any]]:
    """Run the curl commands the launcher printed, as a user pastes them; their answers."""
    lines = [line.strip() for line in log.read_text().splitlines()]
    commands = [line for line in lines if line.startswith("curl ")]
    assert len(commands) == 3, lines
    done = [subprocess.run(["bash", "-c", c], cwd=ROOT, capture_output=True) for c in commands]
    assert all(d.returncode == 0 for d in done), done
    return [json.loads(d.stdout) for d in done]


def test_launcher_trains_on_sqlite_and_file_broker(tmp_path: Path) -> None:
    home, port, log = tmp_path / "home", free_port(), tmp_path / "stack.log"
    base_url = f"http://127.0.0.1:{port}"
    env = process_env({"REGLAB_HOME": str(home), "REGLAB_PORT": str(port)})
    env["VENV"] = str(Path(env["PATH"].split(":")[0]).parent)
    with running(["./scripts/run_local.sh"], env, log):
        wait_healthy(base_url)
        key = read_key(home)  # the launcher wrote it before it started the API
        assert httpx.get(f"{base_url}/runs", timeout=10).status_code == 401  # closed without it
        with api_client(base_url, key) as api:
            assert_stack_serves(api)
            assert_uploads_train(api)
            experiment, run, metrics = printed_examples(log)
            assert (run["id"], metrics["run_id"]) == (1, 1)
            trained = wait_terminal(api, experiment["runs"][0]["id"], timeout=180)
            assert trained["status"] == "succeeded", trained
    assert (home / "reglab.sqlite").exists()
    assert stat.S_IMODE((home / KEY_FILE).stat().st_mode) == 0o600
    assert key.startswith("rl_") and key not in log.read_text()
