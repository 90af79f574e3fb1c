"""`make run`'s launcher on the embedded store and broker: no Postgres, no Redis."""

from pathlib import Path

import pytest

from tests.integration.stack import (
    assert_stack_serves,
    free_port,
    process_env,
    running,
)
from tests.integration.uploads import assert_uploads_train

pytestmark = pytest.mark.integration


def test_launcher_trains_on_sqlite_and_file_broker(tmp_path: Path) -> None:
    port = free_port()
    env = process_env({"REGLAB_HOME": str(tmp_path / "home"), "REGLAB_PORT": str(port)})
    env["VENV"] = str(Path(env["PATH"].split(":")[0]).parent)
    with running(["./scripts/run_local.sh"], env, tmp_path / "stack.log"):
        assert_stack_serves(f"http://127.0.0.1:{port}")
        assert_uploads_train(f"http://127.0.0.1:{port}")
    assert (tmp_path / "home" / "reglab.sqlite").exists()
