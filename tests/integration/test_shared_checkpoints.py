"""Workers with nothing on disk in common resume each other's runs through an S3 bucket.

Two worker processes with different `REGLAB_HOME` folders, both pointed at the same S3 server
(moto's) by `REGLAB_STORAGE_URL` and the standard AWS variables: the first dies with every
process of it (as a host would), the second finishes the run from the first one's checkpoint.
"""

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from models.blobs import BlobStore
from tests.integration.compose import migrated_stack, service
from tests.integration.stack import api_client, poll, running, submit, wait_healthy, wait_terminal
from tests.integration.test_chaos import FAST_RECOVERY, KEYS, SPEC, curves
from tests.models.blobs.s3server import BUCKET, S3Server

pytestmark = pytest.mark.integration


def test_a_run_killed_on_one_host_resumes_on_another(
    redis_url: str, tmp_path: Path, s3_server: S3Server
) -> None:
    url = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    shared = {
        **FAST_RECOVERY,
        "REGLAB_CHECKPOINT_MIN_SECONDS": "0",
        "REGLAB_STORAGE_URL": url,
        "AWS_ENDPOINT_URL_S3": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    homes = {name: tmp_path / name for name in ("api", "host-a", "host-b")}
    with migrated_stack(redis_url, homes["api"]) as (local, key):
        base_url = f"http://127.0.0.1:{local['REGLAB_PORT']}"

        def worker(name: str) -> tuple[list[str], dict[str, str]]:
            return service("worker", {**local, **shared, "REGLAB_HOME": str(homes[name])})

        with (
            running(*service("api", {**local, **shared}), tmp_path / "api.log"),
            api_client(base_url, key) as api,
        ):
            wait_healthy(base_url)
            run_id = submit(api, {"name": "moved", "spec": SPEC})

            def past_epoch_six() -> dict[str, Any] | None:
                run: dict[str, Any] = api.get(f"/runs/{run_id}").json()
                return run if run["epochs_done"] >= 6 else None

            with running(*worker("host-a"), tmp_path / "host-a.log"):
                # Epoch 6 is stored only after the checkpoint of epoch 5 is in the bucket.
                run = poll(past_epoch_six, timeout=120, interval=0.05)
                pid = int(run["worker"].rsplit(":", 1)[1])
                os.killpg(os.getpgid(pid), signal.SIGKILL)  # host A is gone, all of it
            assert api.get(f"/runs/{run_id}").json()["status"] != "succeeded"

            with running(*worker("host-b"), tmp_path / "host-b.log"):
                run = wait_terminal(api, run_id, timeout=180)
                assert (run["status"], run["attempts"], run["epochs_done"]) == (
                    "succeeded",
                    2,
                    30,
                ), run
                assert run["resumed_from_epoch"] >= 5, run
                again = curves(api, run_id)
                assert again["epochs"] == list(range(1, 31))  # every epoch exactly once
                reference_id = submit(api, {"name": "uninterrupted", "spec": SPEC})
                reference = wait_terminal(api, reference_id, timeout=180)
                assert (reference["status"], reference["resumed_from_epoch"]) == ("succeeded", None)
                expected = curves(api, reference_id)
    # Host B read host A's checkpoint (host A was dead: no process of it was left to).
    assert "resuming after the checkpoint of epoch" in (tmp_path / "host-b.log").read_text()
    for key in KEYS:
        assert again["series"][key] == pytest.approx(expected["series"][key], abs=1e-6)
    # Nothing went through either host's disk, and the ended run's checkpoints are gone.
    for name in ("host-a", "host-b"):
        assert list(homes[name].rglob("*.safetensors")) == [], name
    assert BlobStore(url, **s3_server.options).list_named("checkpoints") == []
