"""What the API key check costs an authenticated GET, on SQLite and on Postgres.

The same GETs are timed with the key check and with it bypassed (`get_caller` overridden to
return a fixed identity: the route as it ran before keys existed), in one process, over real
HTTP (uvicorn in a thread, keep-alive client), in alternating blocks so that drift hits both
alike. `last_used_at` is written at most once a minute per key, so the steady-state cost is
one indexed SELECT by key id plus an HMAC, also timed alone (`authenticate`, no HTTP).

    python bench/auth_latency.py [--store sqlite|postgres|both] [--n 400]
"""

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Before the app reads its settings: a home of its own, and no reconciler ticking in the
# background of one variant's samples but not the other's.
os.environ["REGLAB_HOME"] = tempfile.mkdtemp(prefix="reglab-auth-bench-")
atexit.register(shutil.rmtree, os.environ["REGLAB_HOME"], ignore_errors=True)
os.environ["REGLAB_RECONCILE_SECONDS"] = "0"

import httpx  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from api.auth import secret_key  # noqa: E402
from api.deps import get_caller  # noqa: E402
from api.main import app  # noqa: E402
from models.services.keys import (  # noqa: E402
    KeyIdentity,
    authenticate,
    create_key,
    parse_raw_key,
)
from models.store.db import make_engine, make_sessionmaker  # noqa: E402
from models.store.tables import DEFAULT_PROJECT_ID  # noqa: E402
from tests.api.served import on_store, served  # noqa: E402
from tests.conftest import migrate, scratch_postgres  # noqa: E402
from tests.integration.stack import TINY  # noqa: E402

EXPERIMENTS = 50  # a full default page of GET /experiments
BLOCK = 10  # requests per variant before switching: drift in the load hits both alike


@contextmanager
def store_url(kind: str, home: Path) -> Iterator[str]:
    """A freshly migrated store of this kind."""
    with (
        scratch_postgres()
        if kind == "postgres"
        else nullcontext(f"sqlite:///{home}/b.sqlite") as url
    ):
        migrate(url)
        yield url


def quantiles_ms(samples: list[float]) -> tuple[float, float]:
    """p50 and p95, in milliseconds, of durations in seconds."""
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


def timed(call: Callable[[], httpx.Response]) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    return elapsed


def compare(http: httpx.Client, path: str, identity: KeyIdentity, n: int) -> None:
    """p50/p95 of GET `path` with the key check and bypassed, and their ratio."""

    async def bypass() -> KeyIdentity:
        # async: not even the thread hop a sync dependency takes, as before keys existed
        return identity

    samples: dict[bool, list[float]] = {True: [], False: []}
    for block in range(2 * n // BLOCK):
        checked = block % 2 == 0
        if checked:
            app.dependency_overrides.pop(get_caller, None)
        else:
            app.dependency_overrides[get_caller] = bypass
        samples[checked] += [timed(lambda: http.get(path)) for _ in range(BLOCK)]
    app.dependency_overrides.pop(get_caller, None)
    (p50, p95), (b50, b95) = quantiles_ms(samples[True]), quantiles_ms(samples[False])
    print(
        f"GET {path:<14} key checked p50 {p50:6.2f} ms p95 {p95:6.2f} ms | "
        f"bypassed p50 {b50:6.2f} ms p95 {b95:6.2f} ms | "
        f"p50 +{p50 - b50:5.2f} ms (x{p50 / b50:.2f})  n={len(samples[True])} each"
    )


def check_alone(sessions: sessionmaker[Any], raw_key: str, n: int) -> None:
    """The key check without HTTP: one SELECT by key id and an HMAC, in a session of its own."""
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        with sessions() as session:
            assert authenticate(session, raw_key, secret_key(), datetime.now(UTC)) is not None
        samples.append(time.perf_counter() - start)
    p50, p95 = quantiles_ms(samples)
    print(f"authenticate() alone       p50 {p50:6.2f} ms p95 {p95:6.2f} ms  n={n}")


def bench_store(kind: str, n: int) -> None:
    with ExitStack() as stack:
        url = stack.enter_context(store_url(kind, Path(os.environ["REGLAB_HOME"])))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        sessions = make_sessionmaker(engine)
        row_id, raw_key = create_key(
            sessions, project_id=DEFAULT_PROJECT_ID, name="bench", scopes=["read", "write"],
            expires_at=None, secret_key=secret_key(), created_by=None,
        )  # fmt: skip
        key_id = (parse_raw_key(raw_key) or ("", ""))[0]
        identity = KeyIdentity(row_id, key_id, DEFAULT_PROJECT_ID, frozenset({"read", "write"}))
        stack.enter_context(on_store(app, sessions))
        base = stack.enter_context(served(app))
        headers = {"Authorization": f"Bearer {raw_key}"}
        http = stack.enter_context(httpx.Client(base_url=base, headers=headers, timeout=30))
        runs = [http.post("/experiments", json=TINY).json() for _ in range(EXPERIMENTS)]
        run_id = runs[-1]["runs"][0]["id"]
        print(f"\n[{kind}] {url.split('@')[-1]}")
        for path in (f"/runs/{run_id}", "/experiments"):
            compare(http, path, identity, n)
        check_alone(sessions, raw_key, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=400, help="requests per variant and path")
    args = parser.parse_args()
    for kind in ["sqlite", "postgres"] if args.store == "both" else [args.store]:
        bench_store(kind, args.n)


if __name__ == "__main__":
    main()
