"""The client and the `reglab` CLI against a whole stack with a real worker, on each store:
SQLite (`make run`'s launcher) and Postgres (compose's api and worker services). One stack
per store for the module; tiny specs, a few epochs."""

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from reglab_client import (
    AuthError,
    Client,
    ConflictError,
    EpochEvent,
    ExperimentEnd,
    NotFoundError,
    RunEnd,
    ValidationError,
)

from tests.conftest import REDIS_URL, ROOT, unavailable
from tests.integration.stack import (
    DIVERGES,
    free_port,
    process_env,
    read_key,
    running,
    wait_healthy,
)
from tests.integration.test_chaos import stack as postgres_stack

pytestmark = pytest.mark.integration
TINY = {
    "dataset": {"name": "moons", "n_samples": 300},
    "model": {"hidden": [8]},
    "training": {"epochs": 3},
}
REGLAB = Path(sys.executable).parent / "reglab"  # the console script `pip install` made


@dataclass(frozen=True)
class Live:
    """A running stack: its store, URL, key and a folder of its own."""

    store: str
    url: str
    key: str
    home: Path

    def client(self) -> Client:
        return Client(self.url, self.key)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`reglab ARGS` as a user's shell runs it, pointed at this stack by the environment."""
        env = process_env(
            {
                "REGLAB_URL": self.url,
                "REGLAB_API_KEY": self.key,
                "REGLAB_CONFIG": str(self.home / "cli.toml"),  # none: the environment only
            }
        )
        command = [str(REGLAB), *args]
        return subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """One stack with a worker for the module's tests, on each store."""
    home = tmp_path_factory.mktemp(f"client-{request.param}")
    if request.param == "postgres":
        try:
            redis.Redis.from_url(REDIS_URL).flushdb()
        except redis.RedisError:
            unavailable(f"Redis at {REDIS_URL}")
        with postgres_stack(REDIS_URL, home) as api:
            key = api.headers["authorization"].removeprefix("Bearer ")
            yield Live("postgres", str(api.base_url).rstrip("/"), key, home)
        return
    port = free_port()
    env = process_env({"REGLAB_HOME": str(home / "reglab"), "REGLAB_PORT": str(port)})
    env["VENV"] = str(Path(sys.executable).parent.parent)
    url = f"http://127.0.0.1:{port}"
    with running(["./scripts/run_local.sh"], env, home / "stack.log"):
        wait_healthy(url)
        yield Live("sqlite", url, read_key(home / "reglab"), home)


def test_a_run_s_events_are_its_stored_curves_and_resume_after_an_id(live: Live) -> None:
    with live.client() as client:
        run_id = client.experiments.submit("followed", TINY)["runs"][0]["id"]
        events = list(client.runs.events(run_id))
        epochs = [e for e in events if isinstance(e, EpochEvent)]
        assert [e.epoch for e in epochs] == [1, 2, 3]
        assert events[-1] == RunEnd(events[-1].id, run_id, "succeeded", 3)
        stored = client.runs.metrics(run_id, keys=["train_loss", "val_acc"])
        assert stored["epochs"] == [1, 2, 3]
        assert stored["series"]["val_acc"] == [e.metrics["val_acc"] for e in epochs]
        again = client.runs.events(run_id, last_event_id=epochs[0].id)
        assert [e.epoch for e in again if isinstance(e, EpochEvent)] == [2, 3]
        run = client.runs.wait(run_id)
        assert run["status"] == "succeeded" and run["summary"] is not None
        assert 0 <= (run["summary"]["test_acc"] or -1) <= 1
        folder = live.home / f"run-{run_id}"
        paths = client.artifacts.download(run_id, folder)
    assert sorted(p.name for p in paths) == ["model.json", "model.safetensors"]
    assert json.loads((folder / "model.json").read_text())["spec"] == run["spec"]


def test_a_search_is_listed_filtered_ordered_compared_and_reported(live: Live) -> None:
    search = {"space": {"regularization.dropout": [0.0, 0.5]}, "seeds": [0, 1], "max_parallel": 4}
    with live.client() as client:
        experiment_id = client.experiments.submit("grid", TINY, search)["id"]
        ends = [e for e in client.experiments.events(experiment_id) if isinstance(e, ExperimentEnd)]
        assert ends[0].progress["succeeded"] == 4
        pager = client.runs.list(
            experiment_id=experiment_id, order_by="summary.test_acc desc", page_size=1
        )
        runs = list(pager)
        assert pager.total == 4 and len({r["id"] for r in runs}) == 4
        accuracies = [(r["summary"] or {}).get("test_acc") or -1.0 for r in runs]
        assert accuracies == sorted(accuracies, reverse=True) and min(accuracies) >= 0
        where = f"experiment = {experiment_id} and spec.regularization.dropout = 0.5"
        half = {r["id"] for r in client.runs.list(filter=where)}
        assert half == {r["id"] for r in runs if r["spec"]["regularization"]["dropout"] == 0.5}
        assert len(half) == 2
        report = client.experiments.report(experiment_id)
        assert report["swept"] == ["regularization.dropout"]
        assert sorted(s["values"]["regularization.dropout"] for s in report["settings"]) == [0, 0.5]
        ids = sorted(r["id"] for r in runs)
        view = client.compare(ids, keys=["val_acc"], group_seeds=True)
        assert set(view["differing_spec"]) == {"regularization.dropout", "seed"}
        assert view["groups"] is not None and len(view["groups"]) == 2
        assert client.compare_plot(ids, key="train_loss").startswith(b"\x89PNG")
        svg = client.experiments.plot(experiment_id, "regularization.dropout", format="svg")
        assert b"<svg" in svg
        assert experiment_id in [e["id"] for e in client.experiments.list(page_size=2)]


def test_a_dataset_is_uploaded_read_listed_and_deleted(live: Live) -> None:
    csv = live.home / "toy.csv"
    rows = "".join(f"{i / 100},{(i * 7 % 13) / 13},{'ab'[i % 2]}\n" for i in range(200))
    csv.write_text("f1,f2,label\n" + rows)
    with live.client() as client:
        made = client.datasets.upload(csv, "toy", label="label")
        assert (made["version"], made["n_examples"], made["format"]) == (1, 200, "csv")
        assert client.datasets.upload(csv, "toy", label="label")["id"] == made["id"]
        assert client.datasets.get(made["id"])["class_names"] == ["a", "b"]
        assert made["id"] in [d["id"] for d in client.datasets.list()]
        assert "moons" in [d["name"] for d in client.datasets.builtin()]
        client.datasets.delete(made["id"])
        with pytest.raises(NotFoundError):
            client.datasets.get(made["id"])


def test_refusals_carry_the_api_s_error_list(live: Live) -> None:
    with live.client() as client:
        with pytest.raises(NotFoundError) as missing:
            client.runs.get(2**31 - 1)
        assert missing.value.errors[0].loc == ("path", "run_id")
        with pytest.raises(ValidationError) as bad_filter:
            next(iter(client.runs.list(filter="summary.test_acc >")))
        assert bad_filter.value.errors[0].loc == ("query", "filter")
        with pytest.raises(ValidationError) as bad_spec:
            client.experiments.submit("bad", {**TINY, "training": {"epochs": 0}})
        assert bad_spec.value.errors[0].loc[-2:] == ("training", "epochs")
    with Client(live.url, "rl_000000000000_" + "x" * 43) as stranger, pytest.raises(AuthError):
        stranger.runs.get(1)


def test_a_cancelled_run_ends_its_stream_as_cancelled(live: Live) -> None:
    long = {**TINY, "dataset": {"name": "moons", "n_samples": 2000}, "training": {"epochs": 1000}}
    with live.client() as client:
        run_id = client.experiments.submit("cancelled", long)["runs"][0]["id"]
        events = client.runs.events(run_id)
        next(e for e in events if isinstance(e, EpochEvent))  # it trains
        assert client.runs.cancel(run_id)["id"] == run_id
        rest = list(events)
        end = rest[-1]
        assert isinstance(end, RunEnd) and (end.run_id, end.status) == (run_id, "cancelled")
        with pytest.raises(ConflictError):
            client.runs.cancel(run_id)


def test_cli_submit_follow_shows_progress_and_ends_with_the_summary(live: Live) -> None:
    # The README's example once (SQLite); the same path with a tiny spec on Postgres.
    spec, epochs = ROOT / "examples" / "digits_mlp.json", 15
    if live.store == "postgres":
        spec, epochs = live.home / "tiny.json", 3
        spec.write_text(json.dumps({"name": "tiny", "spec": TINY}))
    done = live.cli("submit", str(spec), "--follow")
    assert done.returncode == 0, done.stdout + done.stderr
    progress = [line.split(" epoch ")[1] for line in done.stderr.splitlines() if " epoch " in line]
    assert [p.split()[0] for p in progress] == [f"{n}/{epochs}" for n in range(1, epochs + 1)]
    assert all(p.split()[1] == "val_acc" for p in progress)
    assert "succeeded" in done.stdout and "test_acc" in done.stdout


def test_cli_exits_non_zero_when_a_run_diverges(live: Live) -> None:
    spec = live.home / "diverges.yaml"
    spec.write_text(json.dumps(DIVERGES))  # JSON is YAML
    done = live.cli("submit", str(spec), "--follow")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed: diverged at epoch" in done.stdout
    assert "Traceback" not in done.stderr


def test_cli_runs_ls_json_is_what_the_api_lists(live: Live) -> None:
    # Runs of its own, so that the lists compared are not empty whatever ran before.
    with live.client() as client:
        for name, spec in [("ls-fails", DIVERGES["spec"]), ("ls-succeeds", TINY)]:
            client.runs.wait(client.experiments.submit(name, spec)["runs"][0]["id"])
    headers = {"Authorization": f"Bearer {live.key}"}
    for args, params in [
        ((), {}),
        (("--filter", "status = 'failed'"), {"filter": "status = 'failed'"}),
        (("--order-by", "summary.test_acc desc"), {"order_by": "summary.test_acc desc"}),
    ]:
        done = live.cli("runs", "ls", "--json", "--limit", "500", *args)
        assert done.returncode == 0, done.stderr
        listed: Any = httpx.get(
            f"{live.url}/runs", params={**params, "limit": 500}, headers=headers
        ).json()
        assert json.loads(done.stdout) == listed["items"]
        statuses = {run["status"] for run in listed["items"]}
        expected = {"failed"} if "filter" in params else {"failed", "succeeded"}
        assert expected <= statuses and ("filter" not in params or statuses == expected)
