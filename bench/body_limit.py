"""Does a JSON body at the limit stall other requests? Is a 50 MB body refused at once?

Starts the real API (uvicorn, SQLite in a temporary REGLAB_HOME) and measures a cheap
`GET /experiments` alone (the baseline), then while another client POSTs, back to back, bodies
of exactly REGLAB_MAX_BODY_BYTES (1 MiB) of several shapes. Prints p50/p95/max of the GET and
the p95 ratio to the baseline, then how long a 50 MB body takes to be answered 413.

    python bench/body_limit.py [--samples 300]
"""

import argparse
import json
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.conftest import migrate  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    api_client,
    bootstrap_key,
    free_port,
    process_env,
    running,
    wait_healthy,
)

LIMIT = 1024 * 1024
BIG = 50 * 1000 * 1000
JSON = {"content-type": "application/json"}
SPEC = {"dataset": {"name": "moons", "n_samples": 200}, "model": {"hidden": [8]}}


def filled(head: str, item: str, tail: str, size: int = LIMIT) -> bytes:
    """`head`, then `item` repeated (comma-separated), then `tail`: exactly `size` bytes."""
    room = size - len(head) - len(tail)
    count = (room + 1) // (len(item) + 1)
    body = head + ",".join([item] * count) + tail
    return (body + " " * (size - len(body))).encode()


def bodies() -> dict[str, bytes]:
    """Bodies of exactly the limit, each costly in its own way; all answered 422."""
    spec = json.dumps(SPEC)
    experiment = '{"name": "big", "spec": ' + spec + ', "search": {"space": {"seed": [0]}, '
    return {
        "array of 0s (524k items)": filled("[", "0", "]"),
        "spec with 90k unknown keys": wide_spec(),
        "12 objects of 90 unknown keys": unknown_keys_everywhere(90),
        "12 objects of 990 unknown keys": unknown_keys_everywhere(990),
        "experiment, 524k seeds": filled(experiment + '"seeds": [', "0", "]}}"),
        "experiment, 1 MiB name": padded_name(spec),
        "nested 512k deep": (b"[" * (LIMIT // 2) + b"]" * (LIMIT // 2)),
    }


def wide_spec() -> bytes:
    """An experiment whose spec holds distinct unknown keys up to the limit (an error each)."""
    head, tail = '{"name": "big", "spec": {', "}}"
    room, keys = LIMIT - len(head) - len(tail), list[str]()
    while room >= len(key := f'"k{len(keys)}": 0') + 1:
        keys.append(key)
        room -= len(key) + 1
    body = head + ",".join(keys) + tail
    return (body + " " * (LIMIT - len(body))).encode()


def unknown_keys_everywhere(count: int) -> bytes:
    """An experiment whose every model object holds `count` unknown keys (an error each)."""
    junk: dict[str, Any] = {f"k{i}": 0 for i in range(count)}
    sections = ["dataset", "model", "optimizer", "regularization"]
    training = {**junk, "early_stopping": dict(junk)}
    spec = {**junk, **{name: dict(junk) for name in sections}, "training": training}
    objective = {**junk, "metric": "val_acc"}
    search = {**junk, "space": {"seed": {**junk, "uniform": [0, 1]}}, "objective": objective}
    search["pruner"] = dict(junk)
    body = json.dumps({**junk, "name": "x", "spec": spec, "search": search})
    return (body + " " * (LIMIT - len(body))).encode()


def padded_name(spec: str) -> bytes:
    """An experiment whose name fills the body to exactly the limit."""
    head, tail = '{"name": "', '", "spec": ' + spec + "}"
    return (head + "a" * (LIMIT - len(head) - len(tail)) + tail).encode()


def stats(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max, in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[round(0.95 * (len(ms) - 1))], ms[-1]


def get_latencies(client: httpx.Client, samples: int) -> list[float]:
    """Durations of `samples` sequential GET /experiments."""
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        response = client.get("/experiments", params={"limit": 1})
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    return out


def under_load(
    base: str, key: str, body: bytes, samples: int
) -> tuple[list[float], list[float], set[int]]:
    """GET latencies while another client POSTs `body` back to back; and the POSTs' durations."""
    stop = threading.Event()
    posts: list[float] = []
    codes: set[int] = set()

    def hammer() -> None:
        with api_client(base, key, timeout=120) as poster:
            while not stop.is_set():
                start = time.perf_counter()
                codes.add(poster.post("/experiments", content=body, headers=JSON).status_code)
                posts.append(time.perf_counter() - start)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        with api_client(base, key, timeout=120) as client:
            while not posts:  # measure with the big bodies already flowing
                time.sleep(0.01)
            gets = get_latencies(client, samples)
    finally:
        stop.set()
        thread.join()
    return gets, posts, codes


def refused_in(port: int, key: str, chunked: bool) -> tuple[float, str, int]:
    """Seconds until a 50 MB body, sent as fast as the server reads, is answered: with the
    status line and the body bytes the client got to send by then."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BIG}"
    head = (
        "POST /experiments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\n"
    )
    piece = b" " * 65536
    frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.perf_counter()
        sock.sendall(f"{head}{framing}\r\n\r\n".encode())
        answer, sent = b"", 0
        while b"\r\n" not in answer and time.perf_counter() - start < 120:
            want_write = [sock] if sent < BIG else []
            readable, writable, _ = select.select([sock], want_write, [], 1.0)
            if readable:
                answer += sock.recv(65536) or b"(closed)\r\n"
            elif writable:
                sent += _send_some(sock, frame)
        return time.perf_counter() - start, answer.partition(b"\r\n")[0].decode(), sent


def _send_some(sock: socket.socket, frame: bytes) -> int:
    """Bytes the socket took (a server that answered may have closed it already)."""
    try:
        return sock.send(frame)
    except (BrokenPipeError, ConnectionResetError):
        return BIG


def row(label: str, samples: list[float], baseline_p95: float | None = None) -> str:
    p50, p95, top = stats(samples)
    ratio = f"   p95 x{p95 / baseline_p95:5.2f}" if baseline_p95 else ""
    return f"{label:34} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {top:7.1f} ms{ratio}"


def measure(home: Path, samples: int) -> None:
    url = f"sqlite:///{home}/reglab.sqlite"
    migrate(url)
    port = free_port()
    env = {"REGLAB_HOME": str(home), "REGLAB_DATABASE_URL": url, "REGLAB_PORT": str(port)}
    env["REGLAB_RECONCILE_SECONDS"] = "0"
    base = f"http://127.0.0.1:{port}"
    key = bootstrap_key(process_env(env))
    with ExitStack() as stack:
        stack.enter_context(
            running([sys.executable, "-m", "api"], process_env(env), home / "api.log")
        )
        wait_healthy(base)
        with api_client(base, key) as client:
            get_latencies(client, 50)  # warm up
            alone = get_latencies(client, samples)
            baseline = stats(alone)[1]
            print(row("GET /experiments alone (baseline)", alone))
        for name, body in bodies().items():
            assert len(body) == LIMIT, (name, len(body))
            gets, posts, codes = under_load(base, key, body, samples)
            print(row(f"  while POSTing {name}", gets, baseline))
            print(row(f"    (the POSTs, answered {sorted(codes)})", posts))
        for chunked in (False, True):
            seconds, status, sent = refused_in(port, key, chunked)
            kind = "chunked" if chunked else "with Content-Length"
            print(
                f"50 MB body, {kind:20} {status!r} in {seconds * 1000:6.1f} ms, "
                f"{min(sent, BIG) / 1e6:.1f} MB of it sent by then"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(Path(tmp), args.samples)


if __name__ == "__main__":
    main()
