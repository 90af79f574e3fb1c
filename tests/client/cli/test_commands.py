"""The CLI against a mocked API: JSON for scripts, the API's message (not a traceback) on a
refusal, spec files in JSON or YAML."""

import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from reglab_client import Client
from reglab_client.cli import main

from tests.client.mock import NO_WAIT, Handler, Recorder, error_body

RUNS = [{"id": n, "status": "succeeded"} for n in (5, 4, 3)]


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str, Recorder]]:
    """Run `reglab ARGS` against `handler`: (exit code, stdout, stderr, the requests)."""

    def run(handler: Handler, *args: str) -> tuple[int, str, str, Recorder]:
        recorder = Recorder(handler)

        def client(url: str, api_key: str | None) -> Client:
            transport = httpx.MockTransport(recorder)
            return Client(url, api_key, retry=NO_WAIT, transport=transport)

        monkeypatch.setattr("reglab_client.cli.base.Client", client)
        monkeypatch.setattr(sys, "argv", ["reglab", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        return int(exited.value.code or 0), captured.out, captured.err, recorder

    return run


def page(request: httpx.Request) -> httpx.Response:
    cursor = request.url.params.get("cursor")
    items, following = (RUNS[:2], "next") if cursor is None else (RUNS[2:], None)
    return httpx.Response(200, json={"items": items, "total": 3, "next_cursor": following})


def test_runs_ls_json_is_the_api_s_runs_across_pages(cli: Any) -> None:
    code, out, err, api = cli(page, "runs", "ls", "--json", "--filter", "status = 'succeeded'")
    assert (code, json.loads(out), err) == (0, RUNS, "")
    assert api.requests[0].url.params["filter"] == "status = 'succeeded'"


def test_a_list_cut_by_limit_says_so_on_stderr(cli: Any) -> None:
    code, out, err, _ = cli(page, "runs", "ls", "--json", "--limit", "2")
    assert (code, json.loads(out)) == (0, RUNS[:2])
    assert "2 of 3 runs shown" in err


def test_a_refusal_prints_the_api_s_message_and_exits_1(cli: Any) -> None:
    answer = error_body(404, ["path", "run_id"], "run 9 not found", "not_found")
    code, out, err, _ = cli(lambda r: answer, "runs", "show", "9")
    assert (code, out) == (1, "")
    assert err.splitlines() == ["error: 404 Not Found", "  path.run_id: run 9 not found"]


def test_an_unreachable_api_is_a_message_too(cli: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    code, _, err, _ = cli(refuse, "experiments", "ls")
    assert code == 1 and err.startswith("error: http://") and "Connection refused" in err
    assert "Traceback" not in err


def test_a_yaml_spec_and_a_search_file_make_the_request(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "moons.yaml"
    spec.write_text("dataset:\n  name: moons\ntraining:\n  epochs: 2\n")
    search = tmp_path / "grid.json"
    search.write_text(json.dumps({"space": {"regularization.dropout": [0.0, 0.5]}}))
    experiment = {"id": 4, "progress": {"queued": 2}, "runs_planned": 2, "runs": [{}, {}]}
    answer = httpx.Response(202, json=experiment)
    code, out, _, api = cli(lambda r: answer, "submit", str(spec), "--search", str(search))
    assert (code, out.strip()) == (0, "experiment 4: 2 queued")
    assert json.loads(api.requests[0].content) == {
        "name": "moons",
        "spec": {"dataset": {"name": "moons"}, "training": {"epochs": 2}},
        "search": {"space": {"regularization.dropout": [0.0, 0.5]}},
    }


def test_a_spec_file_that_does_not_parse_is_named(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "broken.json"
    spec.write_text("{")
    code, _, err, api = cli(page, "submit", str(spec))
    assert code == 1 and err.startswith(f"error: {spec}:") and api.requests == []


def test_ctrl_c_stops_following_not_the_runs(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("reglab_client.cli.results.follow_experiment", interrupted)
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"name": "n", "spec": {"dataset": {"name": "moons"}}}))
    experiment = {
        "id": 4,
        "progress": {"queued": 1},
        "runs_planned": 1,
        "runs": [{}],
        "search": None,
    }
    code, _, err, api = cli(
        lambda r: httpx.Response(202, json=experiment), "submit", str(spec), "--follow"
    )
    assert code == 130 and [r.method for r in api.requests] == ["POST"]  # no cancel sent
    assert "experiment 4 goes on (reglab experiments follow 4)" in err


def test_a_plot_that_cannot_be_written_is_a_message(cli: Any, tmp_path: Path) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/compare/plot":
            return httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})
        return httpx.Response(200, json={"runs": [], "reference": 1, "differing": [],
                                         "series": {}, "deviations": {}})  # fmt: skip

    target = tmp_path / "missing" / "plot.png"
    code, _, err, _ = cli(api, "compare", "1", "2", "--plot", str(target))
    assert code == 1 and "Traceback" not in err
    assert err.startswith(f"error: {target}: No such file or directory")


def test_a_download_cut_short_is_a_message_and_leaves_no_partial_file(
    cli: Any, tmp_path: Path
) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/runs/3/artifacts":
            listing = {"name": "model.safetensors", "bytes": 9, "sha256": "0" * 64, "url": "/m"}
            return httpx.Response(200, json=[listing])
        return httpx.Response(200, stream=Cut(b"\x00" * 4))

    code, _, err, _ = cli(api, "artifacts", "pull", "3", str(tmp_path))
    assert code == 1 and "Traceback" not in err and "connection lost" in err
    assert list(tmp_path.iterdir()) == []


class Cut(httpx.SyncByteStream):
    """A body that sends `head`, then loses its connection."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        raise httpx.ReadError("connection lost")


def test_login_reads_a_piped_key_checks_it_and_keeps_it_owner_only(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGLAB_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("rl_piped_key\n"))
    listing = httpx.Response(200, json={"items": [], "total": 4, "next_cursor": None})
    code, out, _, api = cli(lambda r: listing, "login", "--url", "http://api.test")
    assert code == 0 and "(4 experiments)" in out
    assert api.requests[0].headers["authorization"] == "Bearer rl_piped_key"
    assert "rl_piped_key" in (tmp_path / "config.toml").read_text()
    assert (tmp_path / "config.toml").stat().st_mode & 0o777 == 0o600


def test_login_refuses_an_empty_standard_input(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGLAB_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err, api = cli(lambda r: httpx.Response(500), "login")
    assert code == 2 and "no key on standard input" in err
    assert api.requests == [] and not (tmp_path / "config.toml").exists()
